"""Fixtures for the mind's tests: a store, and the hashing memory service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from engine.store import Store
from tests.engine.memory.conftest import service  # noqa: F401  (the hashing service fixture)


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[Store]:
    """A fresh store on the frozen clock (no memory service)."""
    with Store(tmp_path / "mind.duckdb", clock=clock) as opened:
        yield opened
