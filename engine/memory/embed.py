"""Sentence embedders: the protocol, errors, memory-type prefixes and a hashing fallback.

Every embedder returns float32 rows of unit length, and has a ``name`` that is
recorded with every vector it produced, so a change of model is detectable.

Implementations:

- ``engine.memory.embed_onnx.OnnxMiniLMEmbedder``: the default, all-MiniLM-L6-v2
  int8 ONNX shipped in a PyPI package (no network, no torch).
- ``engine.memory.embed_http.OllamaEmbedder`` / ``OpenAICompatibleEmbedder``: a
  server the user points at.
- ``HashingEmbedder`` (here): feature hashing of word n-grams. It knows no meaning
  beyond shared words; it exists for fast tests and as an offline last resort.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

FloatMatrix = npt.NDArray[np.float32]
"""A float32 array of shape (n, dim)."""

DEFAULT_MEMORY_TYPE_PREFIXES: Mapping[str, str] = {
    "episodic": "Personal experience memory: ",
    "experience": "Personal experience memory: ",
    "fact": "Factual knowledge: ",
    "semantic": "Factual knowledge: ",
    "procedure": "How-to instruction: ",
    "procedural": "How-to instruction: ",
    "how-to": "How-to instruction: ",
    "preference": "User preference: ",
    "reflection": "Self-reflection insight: ",
    "correction": "Past error correction: ",
    "identity": "Identity narrative: ",
    "narrative": "Identity narrative: ",
    "contradiction": "Internal contradiction: ",
    "tension": "Internal contradiction: ",
}
"""Memory kind -> text prefix baked into its vector (moltbot plan 2.1, with aliases)."""


class EmbeddingError(RuntimeError):
    """Base class of every error an embedder raises."""


class EmbedderUnavailableError(EmbeddingError):
    """The model cannot be reached: files or packages missing, server refused or timed out."""


class EmbeddingHTTPError(EmbeddingError):
    """An embedding server answered with an HTTP error status.

    Attributes:
        status_code: the HTTP status.
        body: the start of the response body (for the log / the operator).
    """

    def __init__(self, message: str, *, status_code: int, body: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body


class EmbeddingResponseError(EmbeddingError):
    """The model answered, but not with what was asked (shape, count, zero vector, JSON)."""


class Embedder(Protocol):
    """Turns texts into unit-length float32 vectors.

    Not ``runtime_checkable`` on purpose: on Python 3.11 ``isinstance`` against a
    protocol evaluates its properties, and an HTTP embedder's ``dim`` may make a request.
    """

    @property
    def name(self) -> str:
        """Model id recorded with every vector this embedder produces."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension.

        Raises:
            EmbeddingError: when the dimension must be discovered and that fails.
        """
        ...

    @property
    def max_tokens(self) -> int:
        """Longest input (in this model's tokens) embedded without truncation."""
        ...

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts.

        Args:
            texts: the texts, in order (a list, not a single string).

        Returns:
            float32 array of shape (len(texts), dim) with unit-length rows.

        Raises:
            TypeError: when given a single string.
            EmbeddingError: when the model fails (see subclasses).
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Count tokens as this model sees them (for the "too long to embed" check).

        Args:
            text: the text, including any prefix that will be embedded with it.

        Returns:
            Token count; compare with ``max_tokens``.
        """
        ...


def prefixed_text(
    kind: str,
    text: str,
    prefixes: Mapping[str, str] = DEFAULT_MEMORY_TYPE_PREFIXES,
) -> str:
    """Prefix a memory's text with its kind, so the kind is part of its vector.

    Args:
        kind: memory kind (case and surrounding spaces ignored), e.g. ``"fact"``.
        text: the memory text. If it already starts with the prefix it is returned as is.
        prefixes: kind -> prefix map (the policy's table).

    Returns:
        The text to embed.

    Raises:
        ValueError: for a kind the map does not know (a typo must not silently
            produce unprefixed vectors).
    """
    key = kind.strip().lower()
    try:
        prefix = prefixes[key]
    except KeyError:
        known = ", ".join(sorted(prefixes))
        raise ValueError(f"unknown memory kind {kind!r}; known kinds: {known}") from None
    return text if text.startswith(prefix) else prefix + text


def normalize_rows(matrix: npt.ArrayLike) -> FloatMatrix:
    """Scale each row to unit L2 length.

    Args:
        matrix: array-like of shape (n, dim).

    Returns:
        float32 array of the same shape with unit rows.

    Raises:
        ValueError: if the input is not 2-D, or a row is zero or not finite.
    """
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim != 2:
        raise ValueError(f"expected a 2-D array, got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError("vectors contain NaN or infinity")
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    if np.any(norms == 0.0):
        raise ValueError("a vector has zero length and cannot be normalized")
    unit: FloatMatrix = (array / norms).astype(np.float32, copy=False)
    return unit


def reject_single_string(texts: Sequence[str]) -> list[str]:
    """Turn ``texts`` into a list, refusing a bare string (which is a Sequence[str] too).

    Args:
        texts: the texts.

    Returns:
        The texts as a list.

    Raises:
        TypeError: if ``texts`` is a str, or an item is not a str.
    """
    if isinstance(texts, str):
        raise TypeError("embed() takes a sequence of texts, not a single string")
    items = list(texts)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"texts must be str, got {type(item).__name__}")
    return items


_WORD = re.compile(r"\w+", re.UNICODE)
_EMPTY_TEXT_FEATURE = "\x00empty"


class HashingEmbedder:
    """Feature hashing of word n-grams into ``dim`` signed buckets, L2-normalized.

    Deterministic and instant; similar only when texts share words. A test double
    and offline last resort, not the default embedder.

    Args:
        dim: vector dimension.
        ngram_max: longest word n-gram hashed (1 = words only).
        max_tokens: reported ``max_tokens`` (words are its tokens).
    """

    def __init__(self, dim: int = 384, ngram_max: int = 2, max_tokens: int = 256) -> None:
        if dim < 2:
            raise ValueError("dim must be >= 2")
        if ngram_max < 1:
            raise ValueError("ngram_max must be >= 1")
        self._dim = dim
        self._ngram_max = ngram_max
        self._max_tokens = max_tokens

    @property
    def name(self) -> str:
        """Model id, e.g. ``hashing-ngram2-384d-v1``."""
        return f"hashing-ngram{self._ngram_max}-{self._dim}d-v1"

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def max_tokens(self) -> int:
        """Longest input in words."""
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Count words.

        Args:
            text: the text.

        Returns:
            Number of ``\\w+`` words.
        """
        return len(_WORD.findall(text))

    def embed(self, texts: Sequence[str]) -> FloatMatrix:
        """Embed texts by hashing their word n-grams.

        Args:
            texts: the texts.

        Returns:
            float32 (n, dim), unit rows; an empty text maps to a fixed vector.

        Raises:
            TypeError: when given a single string.
        """
        items = reject_single_string(texts)
        out = np.zeros((len(items), self._dim), dtype=np.float32)
        for row, text in enumerate(items):
            for feature in self._features(text):
                digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
                value = int.from_bytes(digest, "little")
                sign = 1.0 if value & 1 else -1.0
                out[row, (value >> 1) % self._dim] += sign
            norm = math.sqrt(float(np.dot(out[row], out[row])))
            if norm == 0.0:  # features cancelled out exactly: fall back to the empty vector
                out[row] = self.embed([""])[0]
            else:
                out[row] /= norm
        return out

    def _features(self, text: str) -> list[str]:
        words = [w.lower() for w in _WORD.findall(text)]
        if not words:
            return [_EMPTY_TEXT_FEATURE]
        features: list[str] = []
        for n in range(1, self._ngram_max + 1):
            features.extend(" ".join(words[i : i + n]) for i in range(len(words) - n + 1))
        return features
