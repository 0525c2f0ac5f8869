"""USearch index: add/search/remove, persistence, and refusing to load damaged files."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.config import load_policy
from engine.memory.vector_index import (
    IndexStatus,
    UsearchVectorIndex,
    VectorIndex,
    meta_path_for,
)

DIM = 32
MODEL = "test-model"


def clustered(n: int, dim: int = DIM, seed: int = 0) -> np.ndarray:
    """Low-rank clustered unit vectors (like real embeddings; random ones are too easy)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((8, dim))
    centers = rng.standard_normal((20, 8))
    latent = centers[rng.integers(0, 20, n)] + 0.35 * rng.standard_normal((n, 8))
    vectors = latent @ basis + 0.05 * rng.standard_normal((n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def vectors() -> np.ndarray:
    return clustered(600)


@pytest.fixture
def index(vectors: np.ndarray) -> UsearchVectorIndex:
    built = UsearchVectorIndex(model=MODEL, dim=DIM)
    built.add(np.arange(len(vectors)), vectors)
    return built


def test_add_search_contains_remove(index: UsearchVectorIndex, vectors: np.ndarray) -> None:
    _typed: VectorIndex = index  # static conformance
    assert len(index) == 600 and index.contains(17) and not index.contains(600)
    keys, sims = index.search(vectors[17], 5)
    assert keys.dtype == np.int64 and sims.dtype == np.float32
    assert keys[0] == 17 and sims[0] == pytest.approx(1.0, abs=1e-3)
    assert np.all(np.diff(sims) <= 1e-6)  # best first
    assert index.remove([17, 9999]) == 1
    assert not index.contains(17) and len(index) == 599
    assert 17 not in index.search(vectors[17], 5)[0]


def test_replacing_a_key_keeps_one_vector(index: UsearchVectorIndex, vectors: np.ndarray) -> None:
    index.add([3], vectors[400])
    assert len(index) == 600
    keys, sims = index.search(vectors[400], 2)
    assert set(keys) == {3, 400} and sims[1] == pytest.approx(1.0, abs=1e-3)


def test_ann_recall_matches_exact_search(index: UsearchVectorIndex, vectors: np.ndarray) -> None:
    queries = clustered(50, seed=1)
    hits = 0
    for query in queries:
        keys, _ = index.search(query, 10)
        exact = np.argsort(-(vectors @ query))[:10]
        hits += len(set(keys) & set(exact))
    assert hits / 500 >= 0.95


def test_search_exact_over_a_subset(index: UsearchVectorIndex, vectors: np.ndarray) -> None:
    subset = np.arange(100, 200)
    keys, sims = index.search_exact(vectors[0], 3, [*subset, 5000])
    expected = subset[np.argsort(-(vectors[subset] @ vectors[0]))[:3]]
    np.testing.assert_array_equal(keys, expected)
    np.testing.assert_allclose(sims, np.sort(vectors[subset] @ vectors[0])[::-1][:3], atol=2e-3)
    assert index.search_exact(vectors[0], 3, [])[0].size == 0


def test_empty_index_and_k_zero() -> None:
    empty = UsearchVectorIndex(model=MODEL, dim=DIM)
    keys, sims = empty.search(np.ones(DIM), 10)
    assert keys.size == 0 and sims.size == 0 and len(empty) == 0


@pytest.mark.parametrize(
    ("keys", "vecs", "message"),
    [
        ([-1], np.ones((1, DIM)), "non-negative"),
        ([1, 1], np.ones((2, DIM)), "duplicate"),
        ([1], np.ones((1, DIM + 1)), "shape"),
        ([1], np.zeros((1, DIM)), "non-zero"),
        ([1], np.full((1, DIM), np.nan), "finite"),
        ([1.5], np.ones((1, DIM)), "integers"),
    ],
)
def test_bad_input_is_rejected_before_touching_the_index(
    index: UsearchVectorIndex, keys: Any, vecs: np.ndarray, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        index.add(keys, vecs)
    assert len(index) == 600


def test_negative_key_is_rejected_everywhere(index: UsearchVectorIndex) -> None:
    with pytest.raises(ValueError, match="non-negative"):
        index.remove([-1])
    assert not index.contains(-1)
    with pytest.raises(ValueError, match="non-zero"):
        index.search(np.zeros(DIM), 3)


def test_progress_reports_chunks(vectors: np.ndarray) -> None:
    index = UsearchVectorIndex(model=MODEL, dim=DIM, chunk_size=250)
    seen: list[tuple[int, int]] = []
    index.add(np.arange(600), vectors, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(250, 600), (500, 600), (600, 600)]
    seen.clear()
    index.rebuild(np.arange(100), vectors[:100], progress=lambda d, t: seen.append((d, t)))
    assert seen == [(100, 100)] and len(index) == 100 and not index.contains(300)


def test_save_open_roundtrip(
    index: UsearchVectorIndex, vectors: np.ndarray, tmp_path: Path
) -> None:
    path = tmp_path / "memories.usearch"
    meta = index.save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "memories.usearch",
        "memories.usearch.meta.json",
    ]  # no temp file left behind
    sidecar = json.loads(meta_path_for(path).read_text())
    assert sidecar["model"] == MODEL and sidecar["dim"] == DIM and sidecar["count"] == 600
    assert sidecar["sha256"] == meta.sha256 and sidecar["format_version"] == 1

    result = UsearchVectorIndex.open(
        path, expected_model=MODEL, expected_dim=DIM, expansion_search=77
    )
    assert result.status is IndexStatus.OK and not result.needs_rebuild
    reopened = result.index
    assert len(reopened) == 600 and reopened.expansion_search == 77
    np.testing.assert_array_equal(reopened.search(vectors[5], 5)[0], index.search(vectors[5], 5)[0])


def test_removed_keys_stay_removed_after_reopen(index: UsearchVectorIndex, tmp_path: Path) -> None:
    index.remove([1, 2, 3])
    index.save(tmp_path / "i.usearch")
    reopened = UsearchVectorIndex.open(
        tmp_path / "i.usearch", expected_model=MODEL, expected_dim=DIM
    ).index
    assert len(reopened) == 597 and not reopened.contains(2)


def test_save_is_atomic_an_interrupted_save_leaves_the_old_files(
    index: UsearchVectorIndex, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "i.usearch"
    index.save(path)
    before = path.read_bytes()
    index.add([9000], np.ones(DIM, np.float32))

    def crash(*args: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("engine.memory.vector_index.os.replace", crash)
    with pytest.raises(OSError, match="disk full"):
        index.save(path)
    assert path.read_bytes() == before  # the visible file is still the complete old one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["i.usearch", "i.usearch.meta.json"]
    monkeypatch.undo()
    result = UsearchVectorIndex.open(path, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.OK and len(result.index) == 600


@pytest.fixture
def saved(index: UsearchVectorIndex, tmp_path: Path) -> Path:
    path = tmp_path / "i.usearch"
    index.save(path)
    return path


@pytest.fixture
def usearch_must_not_load(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make any USearch parse of a file fail the test (and record it)."""
    from usearch.index import Index

    calls: list[str] = []

    def forbidden(*args: object, **kwargs: object) -> None:
        calls.append("parsed")
        raise AssertionError("USearch was asked to parse an unverified file")

    monkeypatch.setattr(Index, "load", forbidden)
    monkeypatch.setattr(Index, "metadata", staticmethod(forbidden))
    monkeypatch.setattr(Index, "view", forbidden)
    return calls


def test_flipped_graph_byte_is_a_checksum_mismatch_and_is_never_loaded(
    saved: Path, usearch_must_not_load: list[str]
) -> None:
    data = bytearray(saved.read_bytes())
    matrix_end = 8 + 600 * DIM * 2  # rows/cols header, then f16 vectors, then the graph
    assert len(data) > matrix_end + 1000
    data[(matrix_end + len(data)) // 2] ^= 0xFF
    saved.write_bytes(bytes(data))
    result = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.CHECKSUM_MISMATCH and result.needs_rebuild
    assert "sha256" in result.detail
    assert usearch_must_not_load == []
    assert len(result.index) == 0 and result.index.model == MODEL  # empty, ready to rebuild


def test_truncated_file_is_refused_without_loading(
    saved: Path, usearch_must_not_load: list[str]
) -> None:
    saved.write_bytes(saved.read_bytes()[:1000])
    result = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.CHECKSUM_MISMATCH and "size" in result.detail
    assert usearch_must_not_load == []


def test_missing_or_broken_sidecar_is_corrupt(
    saved: Path, usearch_must_not_load: list[str]
) -> None:
    meta = meta_path_for(saved)
    text = meta.read_text()
    meta.unlink()
    result = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.CORRUPT and "sidecar missing" in result.detail
    meta.write_text(text[: len(text) // 2])
    result = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.CORRUPT and "unreadable" in result.detail
    assert usearch_must_not_load == []


def test_missing_file(tmp_path: Path) -> None:
    result = UsearchVectorIndex.open(
        tmp_path / "none.usearch", expected_model=MODEL, expected_dim=DIM
    )
    assert result.status is IndexStatus.MISSING


def test_other_model_or_dim_is_stale_and_other_dtype_needs_a_rebuild(
    saved: Path, usearch_must_not_load: list[str]
) -> None:
    other = UsearchVectorIndex.open(saved, expected_model="other-model", expected_dim=DIM)
    assert other.status is IndexStatus.STALE_MODEL and "other-model" in other.detail
    assert other.index.model == "other-model"
    wider = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM * 2)
    assert wider.status is IndexStatus.STALE_MODEL
    f32 = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM, dtype="f32")
    assert f32.status is IndexStatus.STALE_PARAMS
    assert usearch_must_not_load == []


def test_a_file_usearch_refuses_after_a_valid_checksum_is_corrupt(saved: Path) -> None:
    saved.write_bytes(b"\0" * 64)  # zeroed header: USearch raises a clean ValueError
    meta = json.loads(meta_path_for(saved).read_text())
    import hashlib

    meta.update(size_bytes=64, sha256=hashlib.sha256(b"\0" * 64).hexdigest())
    meta_path_for(saved).write_text(json.dumps(meta))
    result = UsearchVectorIndex.open(saved, expected_model=MODEL, expected_dim=DIM)
    assert result.status is IndexStatus.CORRUPT


def test_concurrent_search_during_add_and_rebuild(vectors: np.ndarray) -> None:
    index = UsearchVectorIndex(model=MODEL, dim=DIM, chunk_size=50)
    index.add(np.arange(100), vectors[:100])
    stop = threading.Event()
    errors: list[BaseException] = []

    def searcher() -> None:
        try:
            while not stop.is_set():
                keys, _ = index.search(vectors[0], 5)
                assert len(keys) == 5
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=searcher)
    thread.start()
    index.add(np.arange(100, 600), vectors[100:])
    index.rebuild(np.arange(600), vectors)
    index.remove(np.arange(300, 400))
    stop.set()
    thread.join()
    assert not errors and len(index) == 500


def test_importing_the_index_before_onnxruntime_does_not_crash() -> None:
    pytest.importorskip("onnxruntime")
    code = "import engine.memory.vector_index, onnxruntime; print('ok')"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_expansion_search_is_tunable_and_k_beyond_size_returns_all(vectors: np.ndarray) -> None:
    index = UsearchVectorIndex(model=MODEL, dim=DIM)
    assert index.expansion_search == load_policy().policy.index.expansion_search  # one default
    index.expansion_search = 32
    assert index.expansion_search == 32
    with pytest.raises(ValueError):
        index.expansion_search = 0
    index.add([5, 6, 7], vectors[:3])
    keys, _ = index.search(vectors[0], 50)
    assert sorted(keys) == [5, 6, 7]
    assert index.search(vectors[0], 0)[0].size == 0
    with pytest.raises(ValueError, match="k must be"):
        index.search(vectors[0], -1)


def test_a_search_can_use_its_own_candidate_list_for_that_call_only() -> None:
    rng = np.random.default_rng(11)
    data = rng.normal(size=(3000, DIM)).astype(np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    queries = rng.normal(size=(60, DIM)).astype(np.float32)
    index = UsearchVectorIndex(model=MODEL, dim=DIM, connectivity=4, expansion_add=8)
    index.add(np.arange(3000), data)
    index.expansion_search = 512
    exact = [set(np.argsort(-(data @ q))[:10].tolist()) for q in queries]

    def recall(expansion: int | None) -> float:
        found = [set(index.search(q, 10, expansion)[0].tolist()) for q in queries]
        return sum(len(f & e) for f, e in zip(found, exact, strict=True)) / (10 * len(queries))

    wide, narrow = recall(None), recall(10)
    assert wide > 0.9 and narrow < wide - 0.1  # the small list really was used
    assert index.expansion_search == 512 and recall(None) == wide  # and only for that call
    assert recall(512) == wide
