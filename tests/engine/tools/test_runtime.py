"""The tool runtime refuses, bounds, retries, caches and records as promised."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.policy.runtime import ToolsSection
from engine.signals import Signal
from engine.store import Store
from engine.tools import (
    Scope,
    SourceTag,
    ToolContext,
    ToolRegistry,
    ToolRuntime,
    ToolSpec,
    register_builtin_tools,
)


class Text(BaseModel):
    text: str


class Effects:
    """A stand-in for the outside world: counts effects that really happened."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.failures_left = 0
        self.lock = threading.Lock()

    def send(self, args: Text, _ctx: ToolContext) -> dict[str, str]:
        with self.lock:
            if self.failures_left > 0:
                self.failures_left -= 1
                raise ConnectionError("upstream said 503")
            self.sent.append(args.text)
        return {"delivered": args.text}


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[Store]:
    with Store(tmp_path / "db.duckdb", clock=clock) as s:
        yield s


def _policy(**changes: object) -> ToolsSection:
    tools = load_policy().policy.tools
    budget = tools.budget.model_copy(update=changes.pop("budget", {}))
    return tools.model_copy(update={"budget": budget, **changes})


def _runtime(
    store: Store, clock: FrozenClock, effects: Effects, policy: ToolsSection | None = None
) -> tuple[ToolRuntime, list[Signal], list[float], Monotonic]:
    registry = ToolRegistry()
    register_builtin_tools(registry)
    registry.register(
        ToolSpec(
            "net.send",
            "send",
            Text,
            Scope.EXTERNAL,
            effects.send,
            network=True,
            idempotent=False,
            counts_as_message=True,
        )
    )
    registry.register(
        ToolSpec(
            "net.fetch", "fetch", Text, Scope.READ, effects.send, network=True, idempotent=True
        )
    )
    registry.register(
        ToolSpec(
            "slow.write",
            "slow",
            Text,
            Scope.WRITE,
            lambda a, c: time.sleep(1.5) or {"done": True},
            timeout_s=0.2,
            idempotent=False,
        )
    )
    registry.register(
        ToolSpec(
            "limited.read",
            "rate limited",
            Text,
            Scope.READ,
            lambda a, c: {"echo": a.text},
            rate_limit_per_minute=2,
        )
    )
    sleeps: list[float] = []
    mono = Monotonic()
    runtime = ToolRuntime(
        registry, store, clock, policy or _policy(), monotonic=mono, sleep=sleeps.append
    )
    signals: list[Signal] = []
    runtime.bus.subscribe(signals.append)
    return runtime, signals, sleeps, mono


def _row(store: Store, call_id: int) -> dict[str, object]:
    cur = store.reader()
    values = cur.execute("SELECT * FROM tool_calls WHERE id = ?", [call_id]).fetchall()[0]
    names = [d[0] for d in cur.description]
    return dict(zip(names, values, strict=True))


def test_read_tool_runs_and_is_recorded(store: Store, clock: FrozenClock) -> None:
    runtime, signals, _, _ = _runtime(store, clock, Effects())
    outcome = runtime.call("clock.now", {}, turn_id=1, source=SourceTag.OPERATOR)
    assert outcome.status == "ok"
    assert outcome.result["utc"] == clock.now().isoformat()
    row = _row(store, outcome.call_id)
    assert row["status"] == "ok" and row["attempts"] == 1 and row["scope"] == "read"
    assert [s.kind for s in signals] == ["tool.started", "tool.finished"]
    status = runtime.call("system.status", {}, turn_id=1, source=SourceTag.OPERATOR)
    assert status.result["counts"]["tool_calls"] >= 1


def test_unknown_tool_and_bad_args_are_recorded(store: Store, clock: FrozenClock) -> None:
    runtime, signals, _, _ = _runtime(store, clock, Effects())
    unknown = runtime.call("memory.serch", {}, turn_id=1, source=SourceTag.OPERATOR)
    assert unknown.status == "invalid" and "memory.search" in (unknown.error or "")
    bad = runtime.call(
        "memory.search", {"query": "", "k": 500}, turn_id=1, source=SourceTag.OPERATOR
    )
    assert bad.status == "invalid"
    assert "query" in (bad.error or "") and "k" in (bad.error or "")
    assert _row(store, bad.call_id)["error"] == bad.error
    assert [s.kind for s in signals] == ["tool.denied", "tool.denied"]


def test_write_tool_needs_unlock_which_expires(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    runtime, signals, _, _ = _runtime(store, clock, effects)
    denied = runtime.call("net.send", {"text": "hi"}, turn_id=1, source=SourceTag.OPERATOR)
    assert denied.status == "denied" and "permission denied" in (denied.error or "")
    assert _row(store, denied.call_id)["denied_reason"] == denied.error
    assert effects.sent == []
    runtime.unlock([Scope.EXTERNAL], minutes=10)
    assert (
        runtime.call("net.send", {"text": "hi"}, turn_id=2, source=SourceTag.OPERATOR).status
        == "ok"
    )
    clock.advance(11 * 60)
    late = runtime.call("net.send", {"text": "hi"}, turn_id=3, source=SourceTag.OPERATOR)
    assert late.status == "denied"
    assert effects.sent == ["hi"]
    assert "tool.denied" in [s.kind for s in signals]


def test_self_initiated_effects_need_confidence(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    runtime, _, _, _ = _runtime(store, clock, effects)
    runtime.unlock([Scope.EXTERNAL])
    low = runtime.call("net.send", {"text": "x"}, turn_id=1, source=SourceTag.DMN, confidence=0.5)
    assert low.status == "denied" and "confidence" in (low.error or "")
    high = runtime.call("net.send", {"text": "x"}, turn_id=1, source=SourceTag.DMN, confidence=0.95)
    assert high.status == "ok" and effects.sent == ["x"]


def test_timeout_is_recorded_and_not_retried(store: Store, clock: FrozenClock) -> None:
    runtime, _, _, _ = _runtime(store, clock, Effects())
    runtime.unlock([Scope.WRITE])
    outcome = runtime.call("slow.write", {"text": "x"}, turn_id=1, source=SourceTag.OPERATOR)
    assert outcome.status == "timeout" and outcome.attempts == 1
    again = runtime.call("slow.write", {"text": "x"}, turn_id=1, source=SourceTag.OPERATOR)
    assert again.status == "skipped"  # effect may have happened: never started twice


def test_network_tool_retries_with_backoff(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    effects.failures_left = 2
    runtime, _, sleeps, _ = _runtime(store, clock, effects)
    outcome = runtime.call("net.fetch", {"text": "page"}, turn_id=1, source=SourceTag.OPERATOR)
    assert outcome.status == "ok" and outcome.attempts == 3
    assert sleeps == [0.5, 1.0]
    assert _row(store, outcome.call_id)["attempts"] == 3


def test_breaker_opens_then_half_opens(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    effects.failures_left = 100
    runtime, _, _, mono = _runtime(store, clock, effects)
    for turn in range(3):  # 3 calls x 3 attempts each, all failing
        assert (
            runtime.call(
                "net.fetch", {"text": str(turn)}, turn_id=turn, source=SourceTag.OPERATOR
            ).status
            == "error"
        )
    blocked = runtime.call("net.fetch", {"text": "z"}, turn_id=9, source=SourceTag.OPERATOR)
    assert blocked.status == "denied" and "circuit open" in (blocked.error or "")
    mono.now += 61
    effects.failures_left = 0
    trial = runtime.call("net.fetch", {"text": "z"}, turn_id=9, source=SourceTag.OPERATOR)
    assert trial.status == "ok"
    assert runtime.breaker("net.fetch").state == "closed"


def test_idempotent_replay_never_repeats_the_effect(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    runtime, signals, _, _ = _runtime(store, clock, effects)
    runtime.unlock([Scope.EXTERNAL])
    first = runtime.call("net.send", {"text": "once"}, turn_id=7, source=SourceTag.OPERATOR)
    second = runtime.call("net.send", {"text": "once"}, turn_id=7, source=SourceTag.OPERATOR)
    assert effects.sent == ["once"]
    assert second.status == "cached" and second.result == first.result
    assert second.idempotency_key == first.idempotency_key
    assert _row(store, second.call_id)["cached_from"] == first.call_id
    assert signals[-1].replayed is True  # type: ignore[attr-defined]
    other_turn = runtime.call("net.send", {"text": "once"}, turn_id=8, source=SourceTag.OPERATOR)
    assert other_turn.status == "ok" and effects.sent == ["once", "once"]


def test_interrupted_call_is_not_repeated(store: Store, clock: FrozenClock) -> None:
    effects = Effects()
    runtime, _, _, _ = _runtime(store, clock, effects)
    runtime.unlock([Scope.EXTERNAL])
    first = runtime.call("net.send", {"text": "x"}, turn_id=3, source=SourceTag.OPERATOR)
    store.write(
        lambda cur: cur.execute(
            "UPDATE tool_calls SET status = 'interrupted' WHERE id = ?", [first.call_id]
        )
    )
    again = runtime.call("net.send", {"text": "x"}, turn_id=3, source=SourceTag.OPERATOR)
    assert again.status == "skipped" and effects.sent == ["x"]


def test_budgets_hold_and_survive_restart(tmp_path: Path, clock: FrozenClock) -> None:
    effects = Effects()
    policy = _policy(budget={"actions_per_hour": 3, "messages_per_hour": 2})
    with Store(tmp_path / "b.duckdb", clock=clock) as store:
        runtime, _, _, _ = _runtime(store, clock, effects, policy)
        runtime.unlock([Scope.EXTERNAL], minutes=120)
        results = [
            runtime.call("net.send", {"text": str(i)}, turn_id=i, source=SourceTag.OPERATOR)
            for i in range(3)
        ]
        assert [r.status for r in results] == ["ok", "ok", "denied"]
        assert "messages_per_hour 2/2" in (results[2].error or "")
    with Store(tmp_path / "b.duckdb", clock=clock) as store:  # a restart
        runtime, _, _, _ = _runtime(store, clock, effects, policy)
        again = runtime.call("net.send", {"text": "late"}, turn_id=10, source=SourceTag.OPERATOR)
        assert again.status == "denied" and "messages_per_hour" in (again.error or "")
        assert runtime.budgets.usage()["actions"] == 2
        clock.advance(3601)
        assert (
            runtime.call(
                "net.send", {"text": "next hour"}, turn_id=11, source=SourceTag.OPERATOR
            ).status
            == "ok"
        )
    assert effects.sent == ["0", "1", "next hour"]


def test_per_tool_rate_limit(store: Store, clock: FrozenClock) -> None:
    runtime, _, _, _ = _runtime(store, clock, Effects())
    statuses = [
        runtime.call("limited.read", {"text": str(i)}, turn_id=1, source=SourceTag.OPERATOR).status
        for i in range(3)
    ]
    assert statuses == ["ok", "ok", "denied"]
    clock.advance(61)
    assert (
        runtime.call("limited.read", {"text": "9"}, turn_id=1, source=SourceTag.OPERATOR).status
        == "ok"
    )


def test_tool_schemas_are_stable_json(store: Store, clock: FrozenClock) -> None:
    runtime, _, _, _ = _runtime(store, clock, Effects())
    first = json.dumps(runtime.registry.schemas(), sort_keys=True)
    assert first == json.dumps(runtime.registry.schemas(), sort_keys=True)
    names = [s["name"] for s in runtime.registry.schemas()]
    assert {
        "memory.search",
        "memory.add",
        "memory.context_log_write",
        "clock.now",
        "system.status",
    } <= set(names)
