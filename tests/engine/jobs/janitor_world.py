"""A janitor world for tests: a store with an ingested synthetic export, a memory
service, a scheduler running only the janitor, and checks on memories and vectors."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.clock import FrozenClock
from engine.ingest.discord_export import ingest_export, load_export
from engine.jobs.base import JobContext
from engine.jobs.janitor import JanitorJob
from engine.jobs.scheduler import Scheduler
from engine.llm.scripted import ScriptedProvider
from engine.policy import Policy
from engine.signals import SignalBus
from engine.store import Store
from engine.store.sql import scalar
from tests.engine.janitor.synthetic_export import make_export
from tests.engine.jobs.conftest import FakeChannel, runs

AFTER_EXPORT = datetime(2024, 3, 7, 0, 0, tzinfo=UTC)
"""The synthetic export runs from 2024-03-04 20:00 for about 50 hours."""
DAY = 86400.0
REPORT_CHANNEL = "450688080542695436"


def summary_json(title: str = "Chatter in memes") -> str:
    """A valid json_v1 summary, as the model would write it."""
    return json.dumps(
        {
            "format": "json_v1",
            "title": title,
            "bullets": ["people talked about the deploy and the parser patch"],
            "topics": ["deploy"],
            "participants": ["alice", "bob"],
            "patterns": [{"pattern": "price ticker posts BTC/USD", "count": 3}],
        }
    )


def q(store: Store, sql: str, *params: Any) -> Any:
    """The first value of a query."""
    return scalar(store.reader(), sql, params)


@dataclass
class World:
    """A store with an ingested export, a janitor scheduler and what it talks to."""

    scheduler: Scheduler
    store: Store
    memory: Any
    clock: FrozenClock
    channel: FakeChannel
    expected: dict[str, Any]


def open_world(
    memory_world: Callable[..., Any],
    tmp_path: Path,
    policy: Policy,
    provider: ScriptedProvider | None,
    name: str,
    **export: Any,
) -> World:
    """Ingest a synthetic export (``make_export`` arguments) into a fresh world."""
    clock = FrozenClock(AFTER_EXPORT)
    store, memory = memory_world(clock, policy, name)
    expected = make_export(tmp_path / f"{name}.json", **export)
    ingest_export(store, load_export(Path(expected["path"])))
    channel = FakeChannel()
    ctx = JobContext(
        store=store,
        policy=policy,
        clock=clock,
        bus=SignalBus(),
        memory=memory,
        provider=provider,
        channels={"discord": channel},
    )
    scheduler = Scheduler(ctx, [JanitorJob()], seed=1)
    return World(scheduler, store, memory, clock, channel, expected)


def tick(scheduler: Scheduler, store: Store) -> Any:
    """One heartbeat that must start the janitor; returns its finished run."""
    assert scheduler.tick() == ["janitor"]
    assert scheduler.wait_idle(120)
    return runs(store, "janitor")[-1]


def snapshot(store: Store) -> list[tuple[Any, ...]]:
    """Every memory's id, kind, deleted flag, content and whether it has a vector."""
    return (
        store.reader()
        .execute(
            "SELECT m.id, m.kind, m.deleted, m.content, v.memory_id IS NOT NULL FROM memories m "
            "LEFT JOIN memory_vectors v ON v.memory_id = m.id ORDER BY m.id"
        )
        .fetchall()
    )


def assert_no_orphan_vectors(store: Store, memory: Any) -> None:
    """No vector of a deleted or missing memory, in DuckDB or in the ANN index."""
    assert q(store, "SELECT count(*) FROM memory_vectors v JOIN memories m "
                    "ON m.id = v.memory_id WHERE m.deleted") == 0  # fmt: skip
    assert q(store, "SELECT count(*) FROM memory_vectors "
                    "WHERE memory_id NOT IN (SELECT id FROM memories)") == 0  # fmt: skip
    live = [r[0] for r in store.reader().execute(
        "SELECT memory_id FROM memory_vectors").fetchall()]  # fmt: skip
    assert len(memory.vectors) == len(live)
    assert all(memory.vectors.contains(i) for i in live)
