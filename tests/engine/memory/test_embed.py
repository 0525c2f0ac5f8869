"""Embedder protocol, memory-type prefixes, row normalization and the hashing fallback."""

from __future__ import annotations

import numpy as np
import pytest

from engine.memory.embed import (
    DEFAULT_MEMORY_TYPE_PREFIXES,
    Embedder,
    HashingEmbedder,
    normalize_rows,
    prefixed_text,
)


@pytest.mark.parametrize(
    ("kind", "prefix"),
    [
        ("episodic", "Personal experience memory: "),
        ("experience", "Personal experience memory: "),
        ("fact", "Factual knowledge: "),
        ("procedure", "How-to instruction: "),
        ("how-to", "How-to instruction: "),
        ("preference", "User preference: "),
        ("reflection", "Self-reflection insight: "),
        ("correction", "Past error correction: "),
        ("identity", "Identity narrative: "),
        ("contradiction", "Internal contradiction: "),
    ],
)
def test_prefixed_text_uses_the_policy_prefix(kind: str, prefix: str) -> None:
    assert prefixed_text(kind, "the sky is blue") == prefix + "the sky is blue"


def test_prefixed_text_ignores_case_and_does_not_prefix_twice() -> None:
    once = prefixed_text(" Fact ", "water boils at 100 C")
    assert once == "Factual knowledge: water boils at 100 C"
    assert prefixed_text("fact", once) == once


def test_prefixed_text_rejects_an_unknown_kind_and_accepts_a_custom_map() -> None:
    with pytest.raises(ValueError, match="unknown memory kind 'gossip'"):
        prefixed_text("gossip", "x")
    assert prefixed_text("gossip", "x", {"gossip": "Rumour: "}) == "Rumour: x"
    assert "fact" in DEFAULT_MEMORY_TYPE_PREFIXES


def test_normalize_rows_gives_unit_rows_and_refuses_zero_or_nan() -> None:
    out = normalize_rows([[3.0, 4.0], [0.0, 2.0]])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 1.0]], rtol=1e-6)
    with pytest.raises(ValueError, match="zero length"):
        normalize_rows([[0.0, 0.0]])
    with pytest.raises(ValueError, match="NaN"):
        normalize_rows([[np.nan, 1.0]])
    with pytest.raises(ValueError, match="2-D"):
        normalize_rows([1.0, 2.0])


def test_hashing_embedder_is_a_deterministic_unit_norm_embedder() -> None:
    embedder = HashingEmbedder(dim=64)
    _typed: Embedder = embedder  # static conformance (mypy)
    assert embedder.name == "hashing-ngram2-64d-v1"
    texts = ["the cat sat on the mat", "", "a completely different sentence"]
    vectors = embedder.embed(texts)
    assert vectors.shape == (3, 64) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors, HashingEmbedder(dim=64).embed(texts))
    np.testing.assert_array_equal(vectors[0], embedder.embed([texts[0]])[0])


def test_hashing_embedder_scores_shared_words_higher() -> None:
    embedder = HashingEmbedder()
    query, near, far = embedder.embed(
        ["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue beat forecasts"]
    )
    assert float(query @ near) > 0.3 > float(query @ far)


def test_hashing_embedder_counts_words_and_refuses_a_bare_string() -> None:
    embedder = HashingEmbedder()
    assert embedder.count_tokens("one, two  three!") == 3
    assert embedder.embed([]).shape == (0, 384)
    with pytest.raises(TypeError, match="single string"):
        embedder.embed("not a list")
