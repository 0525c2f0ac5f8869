"""Approximate-nearest-neighbour index over memory vectors: USearch HNSW, cosine, f16.

Keys are memory ids (non-negative int64). DuckDB is the source of truth; this
index is a cache that can always be rebuilt from it. The files on disk (the graph
and its checksummed ``<path>.meta.json`` sidecar, both written atomically) are
handled by ``engine.memory.vector_index_files``, whose public names are re-exported
here. ``UsearchVectorIndex.open`` has the sidecar verified before USearch ever
parses the file: any mismatch means "rebuild", never "load".

Threads: mutations (add, remove, rebuild, save) are serialized; searches run
between add chunks, and keep using the old graph while ``rebuild`` builds a new one.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

# Safe to import here: the package ``engine.memory`` (always initialized before this
# submodule) has preloaded the shared libstdc++ that usearch must not shadow.
from usearch.index import Index

from engine.memory.vector_index_files import (
    INDEX_FORMAT_VERSION,
    META_SUFFIX,
    FileCheck,
    IndexMeta,
    IndexStatus,
    file_sha256,
    meta_path_for,
    save_with_sidecar,
    verify_files,
)

__all__ = [
    "INDEX_FORMAT_VERSION",
    "META_SUFFIX",
    "FileCheck",
    "IndexMeta",
    "IndexStatus",
    "KeyArray",
    "OpenResult",
    "ProgressCallback",
    "SimilarityArray",
    "UsearchVectorIndex",
    "VectorIndex",
    "file_sha256",
    "meta_path_for",
]

KeyArray = npt.NDArray[np.int64]
SimilarityArray = npt.NDArray[np.float32]
ProgressCallback = Callable[[int, int], None]
"""Called as ``progress(done, total)`` after each chunk."""


@dataclass(frozen=True)
class OpenResult:
    """Outcome of ``UsearchVectorIndex.open``.

    Attributes:
        status: what was found.
        index: the loaded index when OK, else an empty one for the expected model, to rebuild.
        detail: a human-readable reason (for the log and the TUI).
    """

    status: IndexStatus
    index: UsearchVectorIndex
    detail: str

    @property
    def needs_rebuild(self) -> bool:
        """True unless the file loaded and verified."""
        return self.status is not IndexStatus.OK


class VectorIndex(Protocol):
    """Nearest-neighbour search over (memory id, unit vector) pairs."""

    @property
    def model(self) -> str:
        """Embedding model the vectors came from."""
        ...

    @property
    def dim(self) -> int:
        """Vector dimension."""
        ...

    def __len__(self) -> int: ...

    def contains(self, key: int) -> bool:
        """Whether ``key`` has a vector."""
        ...

    def add(
        self, keys: npt.ArrayLike, vectors: npt.ArrayLike, progress: ProgressCallback | None = None
    ) -> None:
        """Add or replace vectors (see ``UsearchVectorIndex.add``)."""
        ...

    def remove(self, keys: npt.ArrayLike) -> int:
        """Remove keys; returns how many were present."""
        ...

    def search(
        self, vector: npt.ArrayLike, k: int, expansion: int | None = None
    ) -> tuple[KeyArray, SimilarityArray]:
        """Top-k (keys, cosine similarities), best first; ``expansion`` overrides the
        search-time candidate list for this call."""
        ...

    @property
    def revision(self) -> int:
        """Goes up whenever a stored vector is replaced or removed."""
        ...

    def vectors(self, keys: npt.ArrayLike) -> list[npt.NDArray[np.float32] | None]:
        """The stored vectors of ``keys`` (None where a key has none)."""
        ...

    def added_since(self, mark: int) -> tuple[list[int], int]:
        """Keys added after ``mark`` and the new mark (see ``UsearchVectorIndex``)."""
        ...

    def save(self, path: Path) -> IndexMeta:
        """Persist atomically with a checksummed sidecar."""
        ...

    def rebuild(
        self, keys: npt.ArrayLike, vectors: npt.ArrayLike, progress: ProgressCallback | None = None
    ) -> None:
        """Replace all contents."""
        ...


class UsearchVectorIndex:
    """USearch HNSW index (cosine, f16 storage) keyed by memory id.

    Args:
        model: embedding model name the vectors came from (checked on open).
        dim: vector dimension.
        connectivity: HNSW edges per node ("M"); fixed once built.
        expansion_add: candidate list size while inserting ("efConstruction").
        expansion_search: candidate list size while searching ("ef"); the default is
            the policy's ``index.expansion_search``: 256 gave recall@10 0.993 against
            exact search at 100k clustered vectors, 192 gave 0.988, 128 gave 0.968
            (bench/bench_index.py). At 1M, raise it (STACK-NOTES: 0.946 at 256).
        dtype: storage scalar ("f16" halves memory; "f32" for exactness).
        add_threads: threads for ``add`` (0 = all cores).
        rebuild_threads: threads for ``rebuild`` (0 = all cores).
        chunk_size: vectors per locked add step; searches wait at most one chunk.
    """

    def __init__(
        self,
        *,
        model: str,
        dim: int,
        connectivity: int = 16,
        expansion_add: int = 128,
        expansion_search: int = 256,
        dtype: str = "f16",
        add_threads: int = 1,
        rebuild_threads: int = 0,
        chunk_size: int = 1024,
    ) -> None:
        if dim < 1:
            raise ValueError("dim must be >= 1")
        if min(connectivity, expansion_add, expansion_search, chunk_size) < 1:
            raise ValueError("connectivity, expansions and chunk_size must be >= 1")
        self._model = model
        self._dim = dim
        self._params: dict[str, Any] = {
            "connectivity": connectivity,
            "expansion_add": expansion_add,
            "expansion_search": expansion_search,
            "dtype": dtype,
        }
        self._add_threads = add_threads
        self._rebuild_threads = rebuild_threads
        self._chunk_size = chunk_size
        self._mutation_lock = threading.RLock()
        self._index_lock = threading.Lock()
        self._index = self._new_index()
        self._revision = 0
        self._added: list[int] = []

    # -- properties --------------------------------------------------------------------

    @property
    def revision(self) -> int:
        """Goes up whenever a stored vector is replaced or removed (not on additions),
        so a cache of stored vectors knows when to let them go."""
        return self._revision

    @property
    def model(self) -> str:
        """Embedding model name the vectors came from."""
        return self._model

    @property
    def dim(self) -> int:
        """Vector dimension."""
        return self._dim

    @property
    def expansion_search(self) -> int:
        """Search-time candidate list size (settable: higher = better recall, slower)."""
        return int(self._params["expansion_search"])

    @expansion_search.setter
    def expansion_search(self, value: int) -> None:
        if value < 1:
            raise ValueError("expansion_search must be >= 1")
        with self._index_lock:
            self._params["expansion_search"] = value
            self._set_usearch_expansion(value)

    def _set_usearch_expansion(self, value: int) -> None:
        # usearch declares the setter after both getters, which mypy reads as read-only
        setattr(self._index, "expansion_search", value)  # noqa: B010

    @property
    def memory_usage(self) -> int:
        """Bytes USearch reports for graph and vectors."""
        with self._index_lock:
            return int(self._index.memory_usage)

    def __len__(self) -> int:
        with self._index_lock:
            return len(self._index)

    def contains(self, key: int) -> bool:
        """Whether ``key`` has a vector.

        Args:
            key: memory id.

        Returns:
            True if present (negative keys are never present).
        """
        if key < 0:
            return False
        with self._index_lock:
            return bool(self._index.contains(int(key)))

    # -- mutations ---------------------------------------------------------------------

    def add(
        self,
        keys: npt.ArrayLike,
        vectors: npt.ArrayLike,
        progress: ProgressCallback | None = None,
        *,
        threads: int | None = None,
    ) -> None:
        """Add vectors; a key that is already present is replaced (removed, then added).

        Args:
            keys: n unique non-negative memory ids.
            vectors: (n, dim) float array (or one (dim,) vector for one key); rows
                must be finite and non-zero (cosine needs a direction).
            progress: called as ``progress(done, n)`` after each chunk.
            threads: threads for this call (0 = all cores); default ``add_threads``.

        Raises:
            ValueError: negative or duplicate keys, wrong shape, zero/NaN rows.
        """
        key_array, matrix = self._validate(keys, vectors)
        with self._mutation_lock:
            with self._index_lock:
                present = np.asarray(self._index.contains(key_array), dtype=bool)
                if present.any():
                    self._index.remove(key_array[present])
                    self._revision += 1
            threads = self._add_threads if threads is None else threads
            self._add_chunked(self._index, key_array, matrix, threads, progress)
            self._added.extend(key_array.tolist())

    def remove(self, keys: npt.ArrayLike) -> int:
        """Remove vectors by key; absent keys are ignored.

        Args:
            keys: memory ids.

        Returns:
            How many of the keys were present.

        Raises:
            ValueError: if a key is negative.
        """
        key_array = self._validate_keys(keys)
        if key_array.size == 0:
            return 0
        with self._mutation_lock, self._index_lock:
            self._revision += 1
            return int(np.sum(self._index.remove(key_array)))

    def rebuild(
        self,
        keys: npt.ArrayLike,
        vectors: npt.ArrayLike,
        progress: ProgressCallback | None = None,
    ) -> None:
        """Replace the whole contents: build a new graph, then swap it in.

        Searches keep using the old graph until the swap; other mutations wait. Both
        graphs are in memory until the swap (about 2 x 1.3 GB at 1M 384-d vectors).

        Args:
            keys: all memory ids (unique, non-negative).
            vectors: their (n, dim) vectors.
            progress: called as ``progress(done, n)`` after each chunk.

        Raises:
            ValueError: as for ``add``.
        """
        key_array, matrix = self._validate(keys, vectors)
        with self._mutation_lock:
            fresh = self._new_index()
            self._add_chunked(fresh, key_array, matrix, self._rebuild_threads, progress, lock=False)
            with self._index_lock:
                self._index = fresh
                self._revision += 1

    # -- search ------------------------------------------------------------------------

    def search(
        self, vector: npt.ArrayLike, k: int, expansion: int | None = None
    ) -> tuple[KeyArray, SimilarityArray]:
        """Approximate top-k by cosine similarity.

        Args:
            vector: query of shape (dim,); need not be normalized.
            k: how many results at most.
            expansion: the candidate list ("ef") for this call only, e.g. a small one
                for a nearest-neighbour lookup (default: :attr:`expansion_search`).

        Returns:
            (keys int64, similarities float32 = 1 - cosine distance), best first;
            fewer than k when the index holds fewer.

        Raises:
            ValueError: wrong shape, zero or non-finite query, k < 0.
        """
        query = self._validate_query(vector, k)
        with self._index_lock:
            if k == 0 or len(self._index) == 0:
                return np.zeros(0, np.int64), np.zeros(0, np.float32)
            default = int(self._params["expansion_search"])
            if expansion is None or expansion == default:
                matches = self._index.search(query, k, threads=1)
            else:
                self._set_usearch_expansion(max(1, expansion))
                try:
                    matches = self._index.search(query, k, threads=1)
                finally:
                    self._set_usearch_expansion(default)
        keys = np.asarray(matches.keys, dtype=np.uint64).astype(np.int64)
        return keys, (1.0 - np.asarray(matches.distances, dtype=np.float32)).astype(np.float32)

    def search_exact(
        self, vector: npt.ArrayLike, k: int, keys: npt.ArrayLike
    ) -> tuple[KeyArray, SimilarityArray]:
        """Exact top-k among a candidate subset (e.g. memories passing a filter).

        Args:
            vector: query of shape (dim,).
            k: how many results at most.
            keys: candidate memory ids; ids without a vector are skipped.

        Returns:
            (keys, similarities), best first, computed from the stored (f16) vectors.

        Raises:
            ValueError: wrong query shape, k < 0, negative keys.
        """
        query = self._validate_query(vector, k)
        candidates = self._validate_keys(keys)
        found = [
            (int(key), vec)
            for key, vec in zip(candidates, self.vectors(candidates), strict=True)
            if vec is not None
        ]
        if not found or k == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        matrix = np.vstack([vec for _, vec in found]).astype(np.float32)
        matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
        sims = matrix @ (query / np.linalg.norm(query))
        order = np.argsort(-sims, kind="stable")[:k]
        found_keys = np.array([key for key, _ in found], dtype=np.int64)
        return found_keys[order], sims[order].astype(np.float32)

    def added_since(self, mark: int) -> tuple[list[int], int]:
        """Keys added since a mark, so a cache of search results can catch up.

        Args:
            mark: 0, or the mark an earlier call returned (valid while
                :attr:`revision` stays the same).

        Returns:
            (keys added after the mark, in order; the new mark).
        """
        with self._mutation_lock:
            return self._added[mark:], len(self._added)

    def vectors(self, keys: npt.ArrayLike) -> list[npt.NDArray[np.float32] | None]:
        """The stored vectors of some keys, read from the in-memory graph.

        Args:
            keys: memory ids.

        Returns:
            One float32 (dim,) vector per key, as stored (f16, not re-normalized),
            None where the index holds no vector for the key.

        Raises:
            ValueError: negative keys.
        """
        candidates = self._validate_keys(keys)
        if not candidates.size:
            return []
        with self._index_lock:
            stored = self._index.get(candidates, dtype="f32")
        found: tuple[npt.NDArray[np.float32] | None, ...] = tuple(stored or ())
        return list(found)

    # -- persistence -------------------------------------------------------------------

    def save(self, path: Path) -> IndexMeta:
        """Write the index atomically, then its sidecar (see ``vector_index_files``).

        Args:
            path: index file; ``<path>.tmp`` and ``<path>.meta.json`` are used too.

        Returns:
            The sidecar record written.

        Raises:
            OSError: if the directory is not writable or the disk is full.
        """

        def write(tmp: Path) -> None:
            self._index.save(os.fspath(tmp))

        with self._mutation_lock:
            return save_with_sidecar(
                Path(path),
                write,
                model=self._model,
                dim=self._dim,
                count=len(self),
                dtype=str(self._params["dtype"]),
                connectivity=int(self._params["connectivity"]),
            )

    @classmethod
    def open(
        cls, path: Path, *, expected_model: str, expected_dim: int, **params: Any
    ) -> OpenResult:
        """Load a saved index if, and only if, its sidecar vouches for it.

        Checks, in order: file present, sidecar readable, model and dim, size, sha256,
        USearch header; only then loads.

        Args:
            path: index file.
            expected_model: the embedding model now configured.
            expected_dim: its dimension.
            **params: constructor parameters (connectivity, expansion_search, ...).

        Returns:
            An ``OpenResult``; when not OK its ``index`` is empty, ready for ``rebuild``.
        """
        path = Path(path)
        fresh = cls(model=expected_model, dim=expected_dim, **params)
        check = verify_files(
            path,
            expected_model=expected_model,
            expected_dim=expected_dim,
            dtype=fresh._params["dtype"],
            connectivity=fresh._params["connectivity"],
        )
        if check.meta is None:
            return OpenResult(check.status, fresh, check.detail)
        return fresh._load_verified(path, check.meta)

    def _load_verified(self, path: Path, meta: IndexMeta) -> OpenResult:
        def fail(detail: str) -> OpenResult:
            return OpenResult(IndexStatus.CORRUPT, self, detail)

        try:
            header = Index.metadata(os.fspath(path))
            if not header or int(header["dimensions"]) != self._dim:
                return fail(f"USearch header disagrees: {header}")
            loaded = self._new_index()
            loaded.load(os.fspath(path))  # keeps this constructor's expansion values
        except (ValueError, RuntimeError, KeyError) as exc:
            return fail(f"USearch refused the file: {exc}")
        if len(loaded) != meta.count or loaded.ndim != self._dim:
            return fail(
                f"loaded {len(loaded)} x {loaded.ndim}-d, sidecar says {meta.count} x {meta.dim}-d"
            )
        self._index = loaded
        return OpenResult(IndexStatus.OK, self, f"loaded {meta.count} vectors")

    # -- internals ---------------------------------------------------------------------

    def _new_index(self) -> Index:
        return Index(ndim=self._dim, metric="cos", **self._params)

    def _add_chunked(
        self,
        index: Index,
        keys: KeyArray,
        matrix: npt.NDArray[np.float32],
        threads: int,
        progress: ProgressCallback | None,
        lock: bool = True,
    ) -> None:
        total = len(keys)
        for start in range(0, total, self._chunk_size):
            stop = min(start + self._chunk_size, total)
            if lock:
                with self._index_lock:
                    index.add(keys[start:stop], matrix[start:stop], threads=threads)
            else:
                index.add(keys[start:stop], matrix[start:stop], threads=threads)
            if progress is not None:
                progress(stop, total)

    def _validate_keys(self, keys: npt.ArrayLike) -> KeyArray:
        array = np.atleast_1d(np.asarray(keys))
        if array.ndim != 1 or (array.size and not np.issubdtype(array.dtype, np.integer)):
            raise ValueError("keys must be a 1-D sequence of integers")
        array = array.astype(np.int64)
        if np.any(array < 0):
            raise ValueError("keys must be non-negative memory ids")
        return array

    def _validate(
        self, keys: npt.ArrayLike, vectors: npt.ArrayLike
    ) -> tuple[KeyArray, npt.NDArray[np.float32]]:
        key_array = self._validate_keys(keys)
        matrix = np.asarray(vectors, dtype=np.float32)
        if matrix.ndim == 1:
            matrix = matrix.reshape(1, -1)
        if matrix.shape != (len(key_array), self._dim):
            raise ValueError(
                f"expected vectors of shape ({len(key_array)}, {self._dim}), got {matrix.shape}"
            )
        if len(np.unique(key_array)) != len(key_array):
            raise ValueError("duplicate keys in one call")
        if not np.all(np.isfinite(matrix)) or np.any(~matrix.any(axis=1)):
            raise ValueError("vectors must be finite and non-zero")
        return key_array, np.ascontiguousarray(matrix)

    def _validate_query(self, vector: npt.ArrayLike, k: int) -> npt.NDArray[np.float32]:
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        if query.shape != (self._dim,):
            raise ValueError(f"query must have shape ({self._dim},), got {query.shape}")
        if k < 0:
            raise ValueError("k must be >= 0")
        if not np.all(np.isfinite(query)) or not query.any():
            raise ValueError("query must be finite and non-zero")
        return query
