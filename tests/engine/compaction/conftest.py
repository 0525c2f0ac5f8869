"""Fixtures for compaction tests: a memory service with the hashing embedder, a clock
that starts in the past (memories age by moving it), and seeding helpers."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.llm import Provider
from engine.memory.compaction import Compactor
from engine.memory.embed import HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService, OpenReport
from engine.policy import Policy
from engine.store import Store

START = datetime(2025, 11, 3, 9, 0, tzinfo=UTC)
"""When the seeded memories are stored (a Monday)."""


def with_compaction(policy: Policy, **changes: Any) -> Policy:
    """The policy with ``compaction`` fields changed; nested sections by dotted name
    (``grouping.max_source_count=3``)."""
    section = policy.compaction
    nested: dict[str, dict[str, Any]] = {}
    flat: dict[str, Any] = {}
    for key, value in changes.items():
        if "." in key:
            part, name = key.split(".", 1)
            nested.setdefault(part, {})[name] = value
        else:
            flat[key] = value
    for part, values in nested.items():
        flat[part] = getattr(section, part).model_copy(update=values)
    return policy.model_copy(update={"compaction": section.model_copy(update=flat)})


def summary_text(title: str = "Release planning", bullets: int = 3, **extra: Any) -> str:
    """A valid json_v1 answer, as the model would write it."""
    data: dict[str, Any] = {
        "format": "json_v1",
        "title": title,
        "bullets": [f"point {i}: the release moves to friday" for i in range(bullets)],
        "topics": ["release"],
        "participants": ["alice", "bob"],
        "patterns": [{"pattern": "ci bot posts build failed", "count": 4}],
    }
    data.update(extra)
    return json.dumps(data)


@dataclass
class World:
    """A store, a memory service and a clock to age things with."""

    tmp: Path
    store: Store
    clock: FrozenClock
    policy: Policy
    memory: MemoryService

    def add(
        self,
        content: str,
        *,
        kind: str = "message",
        channel: str | None = "c1",
        at: datetime | None = None,
        **fields: Any,
    ) -> int:
        """Store one memory now (``at``: the time it is about)."""
        item = NewMemory(kind=kind, content=content, channel_id=channel, event_ts=at, **fields)
        return self.memory.add([item])[0]

    def age(self, days: float) -> None:
        """Move the clock forward."""
        self.clock.advance(days * 86400)

    def compactor(self, provider: Provider | None, policy: Policy | None = None) -> Compactor:
        """A compactor over this world."""
        return Compactor(self.store, self.memory, provider, policy or self.policy, self.clock)

    def reopen_memory(self, before_open: Callable[[], None] | None = None) -> OpenReport:
        """Close the memory service (saving its index) and open a fresh one on the store.

        Args:
            before_open: runs between the close and the open (e.g. to damage files).

        Returns:
            What the new service found when it opened.
        """
        self.memory.close()
        if before_open is not None:
            before_open()
        svc = MemoryService(self.store, HashingEmbedder(), self.policy, self.clock, self.tmp / "ix")
        self.memory = svc
        return svc.open()

    def scalar(self, sql: str, params: list[Any] | None = None) -> Any:
        """One value from a query."""
        return self.store.reader().execute(sql, params or []).fetchall()[0][0]

    def dump(self, skip: tuple[str, ...] = ()) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table, in a stable order."""
        cur = self.store.reader()
        tables = [
            r[0]
            for r in cur.execute(
                "SELECT table_name FROM duckdb_tables() ORDER BY table_name"
            ).fetchall()
        ]
        return {
            t: cur.execute(f"SELECT * FROM {t} ORDER BY ALL").fetchall()
            for t in tables
            if t not in skip
        }


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    """A fresh world whose clock starts at :data:`START`."""
    clock = FrozenClock(START)
    policy = load_policy().policy
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / "ix")
        svc.open()
        w = World(tmp_path, store, clock, policy, svc)
        yield w
        w.memory.close()


def day(n: int, hour: int = 10, minute: int = 0) -> datetime:
    """A time ``n`` days after :data:`START`'s date."""
    return START.replace(hour=hour, minute=minute) + timedelta(days=n)
