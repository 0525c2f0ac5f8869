"""Caches in front of the ANN index: the nearest memory of a text kept across turns,
and the gut's working set of unit vectors. Both must answer what a fresh look at the
index would, after additions, replacements and removals."""

from __future__ import annotations

import numpy as np

from engine.memory.nearest_cache import CATCH_UP_LIMIT, NearestCache
from engine.memory.vector_index import UsearchVectorIndex
from engine.memory.vector_rows import VectorRows

DIM = 32


def _unit(rng: np.random.Generator, n: int) -> np.ndarray:
    m = rng.normal(size=(n, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def _exact(index: UsearchVectorIndex, keys: list[int], query: np.ndarray) -> tuple[int, float]:
    stored = np.vstack([v for v in index.vectors(keys)])
    sims = stored @ query / np.linalg.norm(stored, axis=1)
    top = int(np.argmax(sims))
    return keys[top], float(sims[top])


def test_the_nearest_memory_catches_up_on_additions_without_searching() -> None:
    rng = np.random.default_rng(3)
    index = UsearchVectorIndex(model="m", dim=DIM)
    keys = list(range(1, 201))
    index.add(keys, _unit(rng, 200))
    cache = NearestCache(lambda: index, capacity=8)
    query = _unit(rng, 1)[0]
    first = cache.nearest("q", query)
    assert first[0] == _exact(index, keys, query)[0]
    assert cache.searches == 1
    assert cache.nearest("q", query) == first and cache.searches == 1  # remembered
    closer = query + 0.05 * _unit(rng, 1)[0]
    index.add([500, 501], np.vstack([_unit(rng, 1)[0], closer]))  # one new memory is nearer
    key, sim = cache.nearest("q", query)
    assert key == 501 and cache.searches == 1  # found among the additions, no ANN search
    assert abs(sim - _exact(index, [*keys, 500, 501], query)[1]) < 1e-3
    index.add([600], _unit(rng, 1))  # a farther addition keeps the answer
    assert cache.nearest("q", query)[0] == 501 and cache.searches == 1
    index.remove([501])  # a removal: start over with a real search
    key, _ = cache.nearest("q", query)
    assert cache.searches == 2 and key != 501
    assert key == _exact(index, [*keys, 500, 600], query)[0]
    cache.nearest("q", query)
    assert cache.searches == 2
    many = list(range(1000, 1001 + CATCH_UP_LIMIT))  # a bulk import: search afresh
    index.add(many, _unit(rng, len(many)))
    key, _ = cache.nearest("q", query)
    assert cache.searches == 3
    assert key == _exact(index, [*keys, 500, 600, *many], query)[0]


def test_the_nearest_cache_is_bounded_and_can_be_off() -> None:
    rng = np.random.default_rng(4)
    index = UsearchVectorIndex(model="m", dim=DIM)
    assert NearestCache(lambda: index, 4).nearest("q", _unit(rng, 1)[0]) == (None, 0.0)
    index.add([1, 2, 3], _unit(rng, 3))
    off = NearestCache(lambda: index, capacity=0)
    q = _unit(rng, 1)[0]
    off.nearest("q", q)
    off.nearest("q", q)
    assert off.searches == 2
    small = NearestCache(lambda: index, capacity=1)
    small.nearest("a", q)
    small.nearest("b", q)
    small.nearest("a", q)  # "a" was evicted by "b"
    assert small.searches == 3


def test_vector_rows_are_the_stored_vectors_normalized_and_follow_replacements() -> None:
    rng = np.random.default_rng(5)
    index = UsearchVectorIndex(model="m", dim=DIM)
    vectors = 3.0 * _unit(rng, 50)  # stored as given (f16), not unit length
    index.add(list(range(1, 51)), vectors)
    rows = VectorRows(lambda: index, max_rows=40)
    present, got = rows.take([5, 999, 7, 5])
    assert present.tolist() == [True, False, True, True]
    expected = np.vstack([vectors[4], vectors[6], vectors[4]])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert np.allclose(got, expected, atol=2e-3)
    replacement = _unit(rng, 1)
    index.add([5], replacement)  # re-embedded: the cached row must not be served
    _, got = rows.take([5])
    assert np.allclose(got[0], replacement[0], atol=2e-3)
    present, got = rows.take(list(range(1, 51)))  # more than max_rows: starts over, still right
    assert present.all() and np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
