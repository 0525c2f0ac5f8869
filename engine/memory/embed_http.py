"""Embedders that call a server over HTTP: Ollama and OpenAI-compatible APIs.

- Ollama: ``POST {base_url}/api/embed`` ``{"model", "input": [...]}`` ->
  ``{"embeddings": [[...], ...]}``.
- OpenAI-compatible (OpenAI, vLLM, llama.cpp server, LM Studio, ...):
  ``POST {base_url}/v1/embeddings`` ``{"model", "input": [...]}`` ->
  ``{"data": [{"index", "embedding"}, ...]}``.

Vectors are re-normalized here whatever the server does. These servers do not
expose their tokenizer, so ``count_tokens`` is an estimate:
``max(ceil(words * tokens_per_word), ceil(chars / chars_per_token))``.
Blocking (``httpx.Client``): call from a worker thread.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from typing import Any

import httpx
import numpy as np

from engine.memory.embed import (
    EmbedderUnavailableError,
    EmbeddingHTTPError,
    EmbeddingResponseError,
    FloatMatrix,
    normalize_rows,
    reject_single_string,
)

_DIM_PROBE_TEXT = "dimension probe"


class HttpEmbedder:
    """Shared machinery of the HTTP embedders; use a subclass.

    Args:
        model: the server's model name.
        base_url: server root, e.g. ``http://127.0.0.1:11434``.
        dim: expected dimension; None = learn it from the first answer.
        batch_size: texts per request.
        timeout_s: per-request timeout.
        max_tokens: the model's input limit in tokens (servers truncate silently).
        api_key: sent as ``Authorization: Bearer``, when given.
        tokens_per_word: token estimate per whitespace-separated word.
        chars_per_token: token estimate per character, for texts without spaces.
        client: an ``httpx.Client`` to use (owned by the caller); default: own one.
    """

    backend = "http"
    """Prefix of ``name``, so vectors from different servers are told apart."""

    def __init__(
        self,
        *,
        model: str,
        base_url: str,
        dim: int | None = None,
        batch_size: int = 64,
        timeout_s: float = 30.0,
        max_tokens: int = 512,
        api_key: str | None = None,
        tokens_per_word: float = 1.3,
        chars_per_token: float = 4.0,
        client: httpx.Client | None = None,
    ) -> None:
        if not model:
            raise ValueError("model must be given")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        self._model = model
        self._base_url = base_url.rstrip("/")
        self._dim = dim
        self._batch_size = batch_size
        self._timeout_s = timeout_s
        self._max_tokens = max_tokens
        self._api_key = api_key
        self._tokens_per_word = tokens_per_word
        self._chars_per_token = chars_per_token
        self._client = client
        self._owns_client = client is None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        """``<backend>:<model>``, recorded with every vector."""
        return f"{self.backend}:{self._model}"

    @property
    def dim(self) -> int:
        """Vector dimension; when not configured, one probe request learns it.

        Raises:
            EmbeddingError: if the probe request fails.
        """
        if self._dim is None:
            self.embed([_DIM_PROBE_TEXT])
        assert self._dim is not None
        return self._dim

    @property
    def max_tokens(self) -> int:
        """The configured input limit."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Estimate tokens (the server's tokenizer is not available here).

        Args:
            text: the text.

        Returns:
            ``max(ceil(words * tokens_per_word), ceil(chars / chars_per_token))``.
        """
        by_words = math.ceil(len(text.split()) * self._tokens_per_word)
        by_chars = math.ceil(len(text) / self._chars_per_token)
        return max(by_words, by_chars)

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts, ``batch_size`` per request.

        Args:
            texts: the texts.

        Returns:
            float32 (len(texts), dim), unit rows.

        Raises:
            TypeError: when given a single string.
            EmbedderUnavailableError: connection refused, DNS failure, timeout.
            EmbeddingHTTPError: the server answered 4xx/5xx (e.g. unknown model).
            EmbeddingResponseError: malformed JSON, wrong count or dimension, zero vector.
        """
        items = reject_single_string(texts)
        if not items:
            return np.zeros((0, self._dim or 0), dtype=np.float32)
        chunks = [
            self._embed_batch(items[i : i + self._batch_size])
            for i in range(0, len(items), self._batch_size)
        ]
        return np.vstack(chunks)

    def close(self) -> None:
        """Close the HTTP client if this embedder created it."""
        with self._lock:
            if self._client is not None and self._owns_client:
                self._client.close()
                self._client = None

    def __enter__(self) -> HttpEmbedder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- for subclasses --------------------------------------------------------------

    def _path(self) -> str:
        raise NotImplementedError

    def _parse(self, payload: Any, expected: int) -> list[Any]:
        raise NotImplementedError

    # -- internals -------------------------------------------------------------------

    def _http(self) -> httpx.Client:
        with self._lock:
            if self._client is None:
                self._client = httpx.Client(timeout=self._timeout_s)
            return self._client

    def _embed_batch(self, batch: list[str]) -> FloatMatrix:
        url = self._base_url + self._path()
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = self._http().post(
                url, json={"model": self._model, "input": batch}, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise EmbedderUnavailableError(f"embedding server {url} timed out: {exc}") from exc
        except httpx.TransportError as exc:  # connection refused, DNS, reset, ...
            raise EmbedderUnavailableError(f"cannot reach embedding server {url}: {exc}") from exc
        if response.status_code >= 400:
            body = response.text[:500]
            raise EmbeddingHTTPError(
                f"embedding server {url} answered HTTP {response.status_code}: {body}",
                status_code=response.status_code,
                body=body,
            )
        try:
            payload = response.json()
        except ValueError as exc:
            raise EmbeddingResponseError(f"embedding server {url} sent invalid JSON") from exc
        rows = self._parse(payload, len(batch))
        if len(rows) != len(batch):
            raise EmbeddingResponseError(f"asked for {len(batch)} vectors, got {len(rows)}")
        try:
            vectors = normalize_rows(np.asarray(rows, dtype=np.float32))
        except ValueError as exc:  # ragged rows, NaN, zero vector, not 2-D
            raise EmbeddingResponseError(f"unusable vectors from {url}: {exc}") from exc
        if self._dim is None:
            self._dim = int(vectors.shape[1])
        elif vectors.shape[1] != self._dim:
            raise EmbeddingResponseError(
                f"{self.name} returned {vectors.shape[1]}-d vectors, expected {self._dim}"
            )
        return vectors


class OllamaEmbedder(HttpEmbedder):
    """Ollama ``/api/embed``; ``base_url`` defaults to ``http://127.0.0.1:11434``."""

    backend = "ollama"

    def __init__(self, *, model: str, base_url: str = "http://127.0.0.1:11434", **kw: Any) -> None:
        super().__init__(model=model, base_url=base_url, **kw)

    def _path(self) -> str:
        return "/api/embed"

    def _parse(self, payload: Any, expected: int) -> list[Any]:
        if not isinstance(payload, dict) or not isinstance(payload.get("embeddings"), list):
            raise EmbeddingResponseError("Ollama response has no 'embeddings' list")
        return list(payload["embeddings"])


class OpenAICompatibleEmbedder(HttpEmbedder):
    """OpenAI-style ``/v1/embeddings``; ``base_url`` may end in ``/v1`` or not."""

    backend = "openai-compatible"

    def __init__(self, *, model: str, base_url: str = "http://127.0.0.1:8000", **kw: Any) -> None:
        root = base_url.rstrip("/")
        root = root.removesuffix("/v1")
        super().__init__(model=model, base_url=root, **kw)

    def _path(self) -> str:
        return "/v1/embeddings"

    def _parse(self, payload: Any, expected: int) -> list[Any]:
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list):
            raise EmbeddingResponseError("OpenAI-style response has no 'data' list")
        try:
            ordered = sorted(data, key=lambda item: int(item.get("index", 0)))
            return [item["embedding"] for item in ordered]
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise EmbeddingResponseError(f"malformed OpenAI-style 'data': {exc}") from exc
