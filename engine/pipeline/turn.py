"""Run one turn end to end and commit it in one transaction.

intake (the input event and a ``running`` turn row, durable before anything acts)
-> context (hybrid retrieval on the input) -> generate/act (``ActLoop``) ->
commit (ONE transaction: LLM calls, output event, minted memories, context
inclusions, the turn record) -> vectors indexed -> ``turn.committed`` signal.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import structlog

from engine.clock import Clock, to_naive_utc
from engine.costs import CostLedger
from engine.llm.base import ChatMessage, TextDelta
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService, PreparedMemories
from engine.models import EventType, NewEvent
from engine.pipeline.act import ActLoop, ActResult, request_digest
from engine.policy import Policy
from engine.signals import (
    ContextRetrieved,
    EngineError,
    LlmDelta,
    SignalBus,
    TurnCommitted,
    TurnStarted,
)
from engine.store import Store
from engine.store.events import insert_events
from engine.store.sql import scalar
from engine.tools.registry import SourceTag

log = structlog.get_logger("cephalon.turn")

PROMPTS = Path(__file__).resolve().parents[2] / "data" / "prompts"


@dataclass
class TurnOutcome:
    """What a turn came to (the ``chat --once --json`` payload and more)."""

    turn_id: int
    candidate_id: int | None
    reply: str | None
    status: str
    stop_reason: str
    provider: str
    model: str
    tokens_in: int
    tokens_out: int
    latency_ms: float
    context: list[dict[str, Any]] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


class TurnRunner:
    """Runs turns against one store, memory, provider and tool runtime."""

    def __init__(
        self,
        store: Store,
        memory: MemoryService | None,
        act: ActLoop,
        ledger: CostLedger,
        policy: Policy,
        clock: Clock,
        bus: SignalBus,
    ) -> None:
        self.store = store
        self.memory = memory
        self.act = act
        self.ledger = ledger
        self.policy = policy
        self.clock = clock
        self.bus = bus
        self.system_prompt = (PROMPTS / "system.md").read_text(encoding="utf-8").strip()

    def has_pending(self) -> bool:
        """True when an input waits for its turn."""
        return bool(
            scalar(self.store.reader(), "SELECT count(*) FROM candidates WHERE status = 'pending'")
        )

    def step(self, cancel: threading.Event | None = None) -> TurnOutcome | None:
        """Run the turn of the most urgent pending candidate (None when none is pending)."""
        rows = (
            self.store.reader()
            .execute(
                "SELECT id, event_id, source_tag, channel_id, text FROM candidates "
                "WHERE status = 'pending' ORDER BY urgency DESC, created_at, id LIMIT 1"
            )
            .fetchall()
        )
        if not rows:
            return None
        candidate_id, event_id, tag, channel_id, text = rows[0]
        return self.run(
            text,
            event_id=event_id,
            candidate_id=candidate_id,
            source=SourceTag(tag),
            channel_id=channel_id,
            cancel=cancel,
        )

    def _open_turn(
        self, event_id: int, candidate_id: int | None, text: str, channel_id: str | None
    ) -> int:
        now = self.clock.now()

        def job(cur: duckdb.DuckDBPyConnection) -> int:
            assert self.store.writer is not None
            turn_id = self.store.writer.ids.take("turns")
            cur.execute(
                "INSERT INTO turns (id, started_at, status, input_event_id, channel_id, input) "
                "VALUES (?, ?, 'running', ?, ?, ?)",
                [turn_id, to_naive_utc(now), event_id, channel_id, text],
            )
            if candidate_id is not None:
                cur.execute(
                    "UPDATE candidates SET status = 'won', turn_id = ?, decided_at = ? "
                    "WHERE id = ?",
                    [turn_id, to_naive_utc(now), candidate_id],
                )
            return turn_id

        return self.store.write(job)

    def _context(self, text: str, turn_id: int) -> list[dict[str, Any]]:
        if self.memory is None:
            return []
        result = self.memory.search(text, 5)
        context = [
            {
                "id": h.id,
                "kind": h.kind,
                "content": h.content,
                "score": h.score,
                "explain": h.explain.model_dump(mode="json"),
            }
            for h in result.hits
        ]
        self.bus.emit(
            ContextRetrieved(ts=self.clock.now(), turn_id=turn_id, query=text, memories=context)
        )
        return context

    def _messages(self, text: str, context: list[dict[str, Any]]) -> list[ChatMessage]:
        messages = [ChatMessage(role="system", content=self.system_prompt)]
        if context:
            lines = "\n".join(f"- [{c['kind']}] {c['content']}" for c in context)
            messages.append(ChatMessage(role="system", content=f"Relevant memories:\n{lines}"))
        messages.append(ChatMessage(role="user", content=text))
        return messages

    def run(
        self,
        text: str,
        *,
        event_id: int,
        candidate_id: int | None = None,
        source: SourceTag = SourceTag.OPERATOR,
        channel_id: str | None = None,
        cancel: threading.Event | None = None,
    ) -> TurnOutcome:
        """Run one turn for an input already stored as an event.

        Args:
            text: the input text.
            event_id: its event.
            candidate_id: the attention candidate it won as.
            source: who sent it.
            channel_id: where it came from (replies are routed there).
            cancel: set to stop the turn early.

        Returns:
            The outcome (the turn is committed, whatever its status).
        """
        started = time.perf_counter()
        turn_id = self._open_turn(event_id, candidate_id, text, channel_id)
        self.bus.emit(
            TurnStarted(
                ts=self.clock.now(),
                turn_id=turn_id,
                input=text,
                source=source.value,
                channel_id=channel_id,
                candidate_id=candidate_id,
            )
        )
        timings: dict[str, float] = {}
        context: list[dict[str, Any]] = []
        messages: list[ChatMessage] = []

        def forward(delta: TextDelta) -> None:
            self.bus.emit(
                LlmDelta(
                    ts=self.clock.now(), turn_id=turn_id, text=delta.text, provider=delta.provider
                )
            )

        stage = "context"
        try:
            t0 = time.perf_counter()
            context = self._context(text, turn_id)
            timings["context"] = (time.perf_counter() - t0) * 1000
            messages = self._messages(text, context)
            stage = "act"
            t0 = time.perf_counter()
            act = self.act.run(
                messages, turn_id=turn_id, source=source, on_delta=forward, cancel=cancel
            )
            timings["act"] = (time.perf_counter() - t0) * 1000
        except Exception as exc:  # a stage failure fails the turn, never the loop
            log.exception("turn.stage_failed", stage=stage, turn=turn_id)
            error = f"{stage}: {type(exc).__name__}: {exc}"
            self.bus.emit(
                EngineError(ts=self.clock.now(), turn_id=turn_id, stage=stage, error=error)
            )
            act = ActResult(output=None, stop_reason="error", error=error)
        prepared = self._prepare_memories(text, act)
        status = (
            "committed"
            if act.output is not None
            else "cancelled"
            if act.stop_reason == "cancel"
            else "failed"
        )
        latency_ms = (time.perf_counter() - started) * 1000
        record: dict[str, Any] = {
            "input": text,
            "input_event_id": event_id,
            "source": source.value,
            "context": context,
            "prompt": [m.model_dump(mode="json") for m in messages],
            "stop_reason": act.stop_reason,
            "error": act.error,
            "source_tag": source.value,
            "tool_calls": [o.call_id for o in act.tool_outcomes],
            "tool_call_log": [
                {
                    "id": o.call_id,
                    "tool": o.tool,
                    "args": args,
                    "status": o.status,
                    "result": o.result,
                    "error": o.error,
                    "attempts": o.attempts,
                    "duration_ms": o.duration_ms,
                    "idempotency_key": o.idempotency_key,
                }
                for o, args in zip(act.tool_outcomes, act.tool_args, strict=True)
            ],
            "llm_results": [r.model_dump(mode="json") for r in act.llm_results],
            "request_digests": [request_digest(r) for r in act.requests],
            "timings_ms": timings,
            "latency_ms": latency_ms,
            "output": act.output,
        }
        self.store.write(
            lambda cur: self._commit(
                cur, turn_id, status, act, record, prepared, context, channel_id
            )
        )
        if self.memory is not None and prepared is not None:
            self.memory.index_prepared(record["memory_ids"], prepared)
        self.bus.emit(
            TurnCommitted(
                ts=self.clock.now(),
                turn_id=turn_id,
                status=status,
                output=act.output,
                stop_reason=act.stop_reason,
                latency_ms=latency_ms,
            )
        )
        last = act.llm_results[-1] if act.llm_results else None
        return TurnOutcome(
            turn_id=turn_id,
            candidate_id=candidate_id,
            reply=act.output,
            status=status,
            stop_reason=act.stop_reason,
            provider=last.provider if last else self.act.provider.name,
            model=last.model if last else self.act.provider.model,
            tokens_in=sum(r.usage.tokens_in for r in act.llm_results),
            tokens_out=sum(r.usage.tokens_out for r in act.llm_results),
            latency_ms=round(latency_ms, 1),
            context=context,
            tool_calls=[
                {"id": o.call_id, "tool": o.tool, "status": o.status, "error": o.error}
                for o in act.tool_outcomes
            ],
            error=act.error,
        )

    def _prepare_memories(self, text: str, act: ActResult) -> PreparedMemories | None:
        if self.memory is None:
            return None
        items = [NewMemory(kind="message", content=text, source="operator")]
        if act.output:
            items.append(
                NewMemory(kind="assistant_message", content=act.output, source="assistant")
            )
        return self.memory.prepare(items)

    def _commit(
        self,
        cur: duckdb.DuckDBPyConnection,
        turn_id: int,
        status: str,
        act: ActResult,
        record: dict[str, Any],
        prepared: PreparedMemories | None,
        context: list[dict[str, Any]],
        channel_id: str | None,
    ) -> None:
        assert self.store.writer is not None
        now = self.clock.now()
        record["llm_calls"] = [self.ledger.insert(cur, turn_id, r) for r in act.llm_results]
        if act.output is not None:
            reply = NewEvent(
                type=EventType.LLM_ASSISTANT_MESSAGE,
                source="engine",
                ts=now,
                channel_id=channel_id,
                payload={"content": act.output, "turn_id": turn_id},
            )
            record["output_event_id"] = insert_events(
                cur, self.store.writer.ids.take("events"), [reply]
            )[0]
        record["memory_ids"] = []
        if self.memory is not None and prepared is not None:
            record["memory_ids"] = self.memory.insert_prepared(cur, prepared)
        for rank, item in enumerate(context, start=1):
            cur.execute(
                "INSERT INTO context_inclusions (turn_id, memory_id, section, rank, score, "
                "explain, ts) VALUES (?, ?, 'related', ?, ?, ?, ?)",
                [
                    turn_id,
                    item["id"],
                    rank,
                    item["score"],
                    json.dumps(item["explain"]),
                    to_naive_utc(now),
                ],
            )
        cur.execute(
            "UPDATE turns SET status = ?, finished_at = ?, output = ?, record = ?, error = ? "
            "WHERE id = ?",
            [
                status,
                to_naive_utc(now),
                act.output,
                json.dumps(record, default=str),
                act.error,
                turn_id,
            ],
        )
