"""The vector index on disk: the checksummed sidecar, its verification, atomic writes.

An index is two files:

- ``<path>``: the USearch graph, written to ``<path>.tmp``, fsynced, renamed;
- ``<path>.meta.json``: model name, dim, count, size and sha256 of ``<path>``,
  written the same way, *after* the index.

``verify_files`` checks the sidecar (model, dim, parameters, size, sha256) before
USearch ever parses the file: a damaged graph can segfault the process or make it
allocate tens of GB, so any mismatch means "rebuild", never "load". Nothing here
imports USearch; ``engine.memory.vector_index`` does the parsing.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path

INDEX_FORMAT_VERSION = 1
META_SUFFIX = ".meta.json"
_HASH_CHUNK = 1 << 20


class IndexStatus(StrEnum):
    """What ``open`` found on disk. Anything but OK means: rebuild from the store."""

    OK = "ok"
    MISSING = "missing"  # no index file
    STALE_MODEL = "stale-model"  # built for another embedding model or dimension: re-embed
    STALE_PARAMS = "stale-params"  # built with another dtype/metric/connectivity: rebuild
    CHECKSUM_MISMATCH = "checksum-mismatch"  # size or sha256 differ from the sidecar
    CORRUPT = "corrupt"  # sidecar missing/unreadable, or USearch refused the verified file


@dataclass(frozen=True)
class IndexMeta:
    """The sidecar record written next to the index file."""

    format_version: int
    model: str
    dim: int
    count: int
    size_bytes: int
    sha256: str
    metric: str = "cos"
    dtype: str = "f16"
    connectivity: int = 16


@dataclass(frozen=True)
class FileCheck:
    """Outcome of ``verify_files``.

    Attributes:
        status: OK when the files vouch for themselves (USearch has not parsed them yet).
        detail: a human-readable reason when not OK.
        meta: the verified sidecar when OK, else None.
    """

    status: IndexStatus
    detail: str
    meta: IndexMeta | None = None


def meta_path_for(path: Path) -> Path:
    """Sidecar path of an index file: ``<path>.meta.json``."""
    return path.with_name(path.name + META_SUFFIX)


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def fsync_dir(directory: Path) -> None:
    """fsync a directory so a rename in it is durable (a no-op where unsupported)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # not supported on this platform/filesystem
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def replace_atomically(tmp: Path, final: Path) -> None:
    """fsync ``tmp``, rename it over ``final``, fsync the directory."""
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(tmp, final)
    fsync_dir(final.parent)


def save_with_sidecar(
    path: Path,
    write_index: Callable[[Path], None],
    *,
    model: str,
    dim: int,
    count: int,
    dtype: str,
    connectivity: int,
) -> IndexMeta:
    """Write an index file atomically, then its sidecar (see the module docstring).

    Args:
        path: index file; ``<path>.tmp`` and ``<path>.meta.json`` are used too.
        write_index: writes the index to the path it is given (the temp file).
        model: embedding model the vectors came from.
        dim: vector dimension.
        count: vectors in the index.
        dtype: storage scalar.
        connectivity: HNSW graph degree.

    Returns:
        The sidecar record written.

    Raises:
        OSError: if the directory is not writable or the disk is full; the files
            already at ``path`` are then left as they were.
    """
    tmp = path.with_name(path.name + ".tmp")
    meta_path = meta_path_for(path)
    meta_tmp = meta_path.with_name(meta_path.name + ".tmp")
    try:
        write_index(tmp)
        meta = IndexMeta(
            format_version=INDEX_FORMAT_VERSION, model=model, dim=dim, count=count,
            size_bytes=tmp.stat().st_size, sha256=file_sha256(tmp), dtype=dtype,
            connectivity=connectivity,
        )
        replace_atomically(tmp, path)
        meta_tmp.write_text(json.dumps(asdict(meta), indent=2, sort_keys=True) + "\n")
        replace_atomically(meta_tmp, meta_path)
    finally:
        tmp.unlink(missing_ok=True)
        meta_tmp.unlink(missing_ok=True)
    return meta


def verify_files(
    path: Path, *, expected_model: str, expected_dim: int, dtype: str, connectivity: int
) -> FileCheck:
    """Check an index file against its sidecar without parsing the index.

    Checks, in order: file present, sidecar readable, format, model and dim, build
    parameters, size, sha256.

    Args:
        path: index file.
        expected_model: the embedding model now configured.
        expected_dim: its dimension.
        dtype: the storage scalar now configured.
        connectivity: the graph degree now configured.

    Returns:
        OK with the sidecar when the file may be handed to USearch, else the reason.
    """
    if not path.is_file():
        return FileCheck(IndexStatus.MISSING, f"no index file at {path}")
    try:
        raw = json.loads(meta_path_for(path).read_text())
        meta = IndexMeta(**raw)
    except FileNotFoundError:
        return FileCheck(IndexStatus.CORRUPT, "sidecar missing: the index cannot be verified")
    except (OSError, ValueError, TypeError) as exc:
        return FileCheck(IndexStatus.CORRUPT, f"sidecar unreadable: {exc}")
    if meta.format_version != INDEX_FORMAT_VERSION:
        return FileCheck(IndexStatus.CORRUPT, f"unknown index format {meta.format_version}")
    if meta.model != expected_model or meta.dim != expected_dim:
        return FileCheck(IndexStatus.STALE_MODEL, f"index holds {meta.model} ({meta.dim}-d), "
                         f"expected {expected_model} ({expected_dim}-d)")
    built = (meta.metric, meta.dtype, meta.connectivity)
    wanted = ("cos", dtype, connectivity)
    if built != wanted:
        return FileCheck(IndexStatus.STALE_PARAMS, f"index built with (metric, dtype, "
                         f"connectivity) {built}, configured {wanted}")
    size = path.stat().st_size
    if size != meta.size_bytes:
        return FileCheck(IndexStatus.CHECKSUM_MISMATCH,
                         f"size {size} differs from recorded {meta.size_bytes}")
    if file_sha256(path) != meta.sha256:
        return FileCheck(IndexStatus.CHECKSUM_MISMATCH, "sha256 differs from the sidecar")
    return FileCheck(IndexStatus.OK, "verified", meta)
