"""Build engine parts from settings and policy (one place that knows the defaults)."""

from __future__ import annotations

import os

from engine.clock import Clock
from engine.config import Settings
from engine.errors import CephalonError
from engine.memory.embed import Embedder, HashingEmbedder
from engine.memory.rerank import Reranker
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store


def build_embedder(settings: Settings, policy: Policy) -> Embedder:
    """The embedder the settings ask for.

    Args:
        settings: ``embedder``, ``embed_model``, ``embed_base_url``, ``threads``.
        policy: batch size.

    Returns:
        An embedder (loaded lazily on first use).

    Raises:
        CephalonError: a server embedder is asked for without a model or URL.
    """
    batch = policy.embedding.batch_size
    if settings.embedder == "hashing":
        return HashingEmbedder()
    if settings.embedder == "minilm":
        from engine.memory.embed_onnx import OnnxMiniLMEmbedder

        return OnnxMiniLMEmbedder(intra_op_threads=settings.threads, batch_size=batch)
    url = settings.embed_base_url or settings.base_url
    if not url or not settings.embed_model:
        raise CephalonError(
            f"embedder {settings.embedder!r} needs CEPHALON_EMBED_MODEL and "
            "CEPHALON_EMBED_BASE_URL (or CEPHALON_BASE_URL)"
        )
    from engine.memory.embed_http import OllamaEmbedder, OpenAICompatibleEmbedder

    if settings.embedder == "ollama":
        return OllamaEmbedder(model=settings.embed_model, base_url=url, batch_size=batch)
    return OpenAICompatibleEmbedder(
        model=settings.embed_model, base_url=url, batch_size=batch,
        api_key=os.environ.get(settings.api_key_env),
    )


def build_memory(
    settings: Settings, policy: Policy, store: Store, clock: Clock | None = None
) -> MemoryService:
    """The memory service over an open store (call ``open()`` on it before use)."""
    return MemoryService(
        store, build_embedder(settings, policy), policy, clock or store.clock,
        settings.data_dir.index_dir, reranker=Reranker(settings.reranker_dir),
        threads=settings.threads, seed=settings.seed,
    )
