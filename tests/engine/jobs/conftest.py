"""Fixtures for heartbeat job tests: a store on a frozen clock, a context, test jobs."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.jobs.base import JobContext
from engine.jobs.state import RunRow, runs_of
from engine.policy import Policy
from engine.signals import JobRun, Signal, SignalBus
from engine.store import Store


def with_section(policy: Policy, section: str, **values: Any) -> Policy:
    """A copy of the policy with some values of one section changed."""
    changed = getattr(policy, section).model_copy(update=values)
    return policy.model_copy(update={section: changed})


class FakeJob:
    """A job whose interval, fingerprint and behaviour a test sets."""

    def __init__(
        self,
        name: str,
        interval: float = 60.0,
        action: Callable[[JobContext], dict[str, Any]] | None = None,
        fingerprint: str | None = None,
    ) -> None:
        self.name = name
        self.interval = interval
        self.action = action
        self.fingerprint = fingerprint
        self.calls: list[JobContext] = []
        self.lock = threading.Lock()

    def interval_seconds(self, policy: Policy) -> float:
        return self.interval

    def inputs_fingerprint(self, ctx: JobContext) -> str | None:
        return self.fingerprint

    def run(self, ctx: JobContext) -> dict[str, Any]:
        with self.lock:
            self.calls.append(ctx)
        return self.action(ctx) if self.action else {"ran": len(self.calls)}


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[Store]:
    """A fresh, migrated store on the frozen clock."""
    with Store(tmp_path / "jobs.duckdb", clock=clock) as opened:
        yield opened


@pytest.fixture
def policy() -> Policy:
    """The default policy with jitter 0.1 and double-run factor 2 (the shipped values)."""
    return with_section(load_policy().policy, "jobs", jitter_fraction=0.1, double_run_factor=2.0)


@pytest.fixture
def signals() -> list[Signal]:
    """Every signal emitted on the context's bus."""
    return []


@pytest.fixture
def ctx(store: Store, policy: Policy, clock: FrozenClock, signals: list[Signal]) -> JobContext:
    """A job context on the test store (no memory, no provider)."""
    bus = SignalBus()
    bus.subscribe(signals.append)
    return JobContext(store=store, policy=policy, clock=clock, bus=bus)


def runs(store: Store, job: str) -> list[RunRow]:
    """A job's runs, oldest first."""
    return list(reversed(runs_of(store.reader(), job, limit=10_000)))


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` seconds pass."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def job_signals(signals: list[Signal], job: str) -> list[tuple[str, int]]:
    """(status, run id) of the JobRun signals of one job, in order."""
    return [(s.status, s.run_id) for s in signals if isinstance(s, JobRun) and s.job == job]


class FakeChannel:
    """A channel that records what it was asked to send (the report channel's stand-in)."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.sent: list[tuple[str, str]] = []
        self.fail = fail

    def send(self, channel_id: str, text: str) -> list[str]:
        if self.fail is not None:
            raise self.fail
        self.sent.append((channel_id, text))
        return [str(len(self.sent))]


@pytest.fixture
def memory_world(tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """Opens (store, memory service) pairs on a given clock; all closed at the end."""
    from engine.memory.embed import HashingEmbedder
    from engine.memory.service import MemoryService

    opened: list[tuple[Store, Any]] = []

    def open_world(clock: FrozenClock, policy: Policy, name: str = "world") -> tuple[Store, Any]:
        store = Store(tmp_path / f"{name}.duckdb", clock=clock)
        memory = MemoryService(store, HashingEmbedder(), policy, clock, tmp_path / f"{name}-ix")
        memory.open()
        opened.append((store, memory))
        return store, memory

    yield open_world
    for store, memory in reversed(opened):
        memory.close()
        store.close()
