"""Shared fixtures. Every test gets its own data dir; no test touches a real home."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point CEPHALON_HOME at a fresh temp dir and drop any other CEPHALON_* settings."""
    for key in list(os.environ):
        if key.startswith("CEPHALON_"):
            monkeypatch.delenv(key)
    home = tmp_path / "home"
    monkeypatch.setenv("CEPHALON_HOME", str(home))
    yield home


@pytest.fixture
def clock() -> FrozenClock:
    """A frozen clock at 2026-01-01 12:00 UTC."""
    return FrozenClock()
