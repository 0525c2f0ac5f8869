"""The cost ledger's totals, and the memory tools through the real runtime."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.costs import CostLedger, call_cost
from engine.llm.base import ChatResult, Usage
from engine.memory.embed import HashingEmbedder
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.store import Store
from engine.tools import Scope, SourceTag, ToolRegistry, ToolRuntime, register_builtin_tools

POLICY = load_policy().policy


def _result(model: str, tokens_in: int, tokens_out: int) -> ChatResult:
    return ChatResult(
        text="x",
        provider="openai_compat",
        model=model,
        usage=Usage(tokens_in=tokens_in, tokens_out=tokens_out),
    )


def test_price_table() -> None:
    prices = {"gpt-4o-mini": [0.15, 0.60]}
    assert call_cost(prices, "gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert call_cost(prices, "qwen2.5-coder-1.5b-instruct-q4_k_m", 10_000, 500) == 0.0


def test_ledger_totals_by_window(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        old = CostLedger(store, clock, POLICY.llm)
        old.record(None, _result("gpt-4o-mini", 2_000_000, 0))  # $0.30, a day and a half ago
        clock.advance(36 * 3600)
        ledger = CostLedger(store, clock, POLICY.llm)  # a new session starts now
        ledger.record(1, _result("gpt-4o-mini", 1_000_000, 1_000_000))  # $0.75
        ledger.record(1, _result("qwen-local", 900, 20))  # free
        summary = ledger.summary()
    assert summary["session"] == {
        "calls": 2,
        "tokens_in": 1_000_900,
        "tokens_out": 1_000_020,
        "cost_usd": 0.75,
    }
    assert summary["24h"]["calls"] == 2
    assert summary["lifetime"]["calls"] == 3
    assert summary["lifetime"]["cost_usd"] == pytest.approx(1.05)


@pytest.fixture
def runtime(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[ToolRuntime, MemoryService]]:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        memory = MemoryService(store, HashingEmbedder(), POLICY, clock, tmp_path / "index")
        memory.open()
        registry = ToolRegistry()
        register_builtin_tools(registry)
        yield ToolRuntime(registry, store, clock, POLICY.tools, services={"memory": memory}), memory


def test_memory_tools(runtime: tuple[ToolRuntime, MemoryService], clock: FrozenClock) -> None:
    rt, memory = runtime
    denied = rt.call(
        "memory.add",
        {"text": "the wifi password is on the fridge"},
        turn_id=1,
        source=SourceTag.OPERATOR,
    )
    assert denied.status == "denied"
    rt.unlock([Scope.WRITE], minutes=30 * 24 * 60)  # the test moves the clock by weeks
    added = rt.call(
        "memory.add",
        {"text": "the wifi password is on the fridge"},
        turn_id=1,
        source=SourceTag.OPERATOR,
    )
    assert added.status == "ok"
    memory_id = added.result["memory_id"]
    found = rt.call(
        "memory.search", {"query": "wifi password", "k": 3}, turn_id=1, source=SourceTag.OPERATOR
    )
    assert found.result["results"][0]["id"] == memory_id

    (other,) = memory.add([NewMemory(kind="fact", content="unrelated note")])
    clock.advance(3600)
    logged = rt.call(
        "memory.context_log_write",
        {
            "context_id": "ctx-1",
            "items": [{"memory_id": memory_id, "tokens": 12}, {"memory_id": other, "tokens": 4}],
        },
        turn_id=2,
        source=SourceTag.OPERATOR,
    )
    assert logged.status == "ok" and logged.result == {"recorded": 2}
    first = memory.get(memory_id)
    assert first is not None and first.included_count_decay == pytest.approx(1.0)
    assert first.last_included_at == clock.now()
    clock.advance(21 * 86400)  # one tau later the old inclusion counts 1/e
    rt.call(
        "memory.context_log_write",
        {"context_id": "ctx-2", "items": [{"memory_id": memory_id, "tokens": 12}]},
        turn_id=3,
        source=SourceTag.OPERATOR,
    )
    again = memory.get(memory_id)
    assert again is not None and again.included_count_decay == pytest.approx(1 + 0.3679, abs=1e-3)
    rows = (
        memory.store.reader()
        .execute("SELECT turn_id, memory_id FROM context_inclusions ORDER BY turn_id, rank")
        .fetchall()
    )
    assert rows == [(2, memory_id), (2, other), (3, memory_id)]
