"""Fixtures for memory tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.service import MemoryService
from engine.store import Store


@pytest.fixture
def service(tmp_path: Path, clock: FrozenClock) -> Iterator[MemoryService]:
    """An opened memory service on a fresh store, with the instant hashing embedder.

    (``test_memory_service.py`` overrides it with the real MiniLM embedder.)
    """
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = MemoryService(store, HashingEmbedder(), load_policy().policy, clock, tmp_path / "ix")
        svc.open()
        yield svc
        svc.close()
