"""Fixtures for the janitor tests: a store and a hashing-embedder memory service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store


@pytest.fixture
def policy() -> Policy:
    """The default policy."""
    return load_policy().policy


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[Store]:
    """A fresh store on disk."""
    with Store(tmp_path / "db.duckdb", clock=clock) as opened:
        yield opened


@pytest.fixture
def service(
    store: Store, policy: Policy, clock: FrozenClock, tmp_path: Path
) -> Iterator[MemoryService]:
    """An opened memory service with the instant hashing embedder."""
    svc = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / "ix")
    svc.open()
    yield svc
    svc.close()
