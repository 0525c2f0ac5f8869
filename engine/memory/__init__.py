"""Memory: embeddings, the vector and keyword indexes, hybrid search, minting.

The libstdc++ preload that makes ``usearch`` and ``onnxruntime`` safe to import
together lives in ``engine.native`` and runs when ``engine`` is imported.
"""
