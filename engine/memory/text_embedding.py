"""Texts to unit vectors the way memory wants them: whole, cached, prefetched.

A text over the embedder's token limit is embedded in chunks and averaged, never
truncated. Recently embedded texts come from an
:class:`~engine.memory.embed_cache.EmbeddingCache`; an input is embedded ahead of
its turn by an :class:`~engine.memory.embed_prefetch.EmbeddingPrefetch`, and a text
still in flight is waited for rather than embedded twice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from engine.memory.embed import Embedder
from engine.memory.embed_cache import EmbeddingCache
from engine.memory.embed_prefetch import EmbeddingPrefetch
from engine.policy.memory import EmbeddingSection


class TextEmbedding:
    """The memory service's embedding of texts (thread-safe)."""

    def __init__(self, embedder: Embedder, policy: EmbeddingSection) -> None:
        """Create it (no model is loaded until the first text).

        Args:
            embedder: the model.
            policy: ``embedding`` (token limit, cache size, prefetch bound).
        """
        self.embedder = embedder
        self.policy = policy
        self.cache = EmbeddingCache(policy.cache_entries)
        self.prefetch = EmbeddingPrefetch(self._embed_into_cache, policy.prefetch_max_pending)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Unit vectors of texts, one row each (cached ones are not embedded again).

        Args:
            texts: the texts (repeats allowed).

        Returns:
            float32 array (len(texts), dim).
        """
        model = self.embedder.name
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        todo: dict[str, list[int]] = {}
        for i, text in enumerate(texts):
            cached = self.cache.get(model, text)
            if cached is not None:
                out[i] = cached
            else:
                todo.setdefault(text, []).append(i)
        if todo and self.prefetch.wait(list(todo)):  # cached by now, unless its job failed
            for text in list(todo):
                cached = self.cache.get(model, text)
                if cached is not None:
                    out[todo.pop(text)] = cached
        if todo:
            unique = list(todo)
            for text, vector in zip(unique, self._embed_into_cache(unique), strict=True):
                out[todo[text]] = vector
        return out

    def start(self, texts: Sequence[str]) -> None:
        """Start embedding texts in the background (an input as intake stores it).

        Args:
            texts: texts a turn will soon embed; already cached ones are skipped.
        """
        if self.cache.capacity <= 0:
            return  # nowhere to keep the result
        model = self.embedder.name
        self.prefetch.start([t for t in texts if self.cache.get(model, t) is None])

    def close(self) -> None:
        """Finish the prefetch running, drop the queued ones."""
        self.prefetch.close()

    def _embed_into_cache(self, texts: list[str]) -> npt.NDArray[np.float32]:
        model = self.embedder.name
        fresh = self._embed_uncached(texts)
        for text, vector in zip(texts, fresh, strict=True):
            self.cache.put(model, text, vector)
        return fresh

    def _embed_uncached(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        limit = min(self.policy.max_tokens, self.embedder.max_tokens)
        pieces: list[str] = []
        owners: list[int] = []
        for i, text in enumerate(texts):
            for piece in self._chunks(text, limit):
                pieces.append(piece)
                owners.append(i)
        out = np.zeros((len(texts), self.embedder.dim), dtype=np.float32)
        if not pieces:
            return out
        vectors = self.embedder.embed(pieces)
        np.add.at(out, np.asarray(owners), vectors)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return (out / np.where(norms == 0, 1, norms)).astype(np.float32)

    def _chunks(self, text: str, limit: int) -> list[str]:
        if self.embedder.count_tokens(text) <= limit:
            return [text]
        words = text.split()
        if len(words) <= 1:  # one huge token run: split by characters
            size = max(1, len(text) * limit // (2 * self.embedder.count_tokens(text)))
            return [text[i : i + size] for i in range(0, len(text), size)]
        ratio = self.embedder.count_tokens(text) / len(words)
        per_chunk = max(1, math.floor(limit * 0.9 / ratio))
        return [" ".join(words[i : i + per_chunk]) for i in range(0, len(words), per_chunk)]
