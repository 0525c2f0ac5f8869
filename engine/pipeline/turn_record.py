"""The turn record (everything needed to inspect and replay a turn) and its outcome."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from engine.llm.base import Provider
from engine.mind.attention import AttentionDecision
from engine.mind.gut import GutReading
from engine.pipeline.act import ActResult, request_digest
from engine.pipeline.context import AssembledContext

if TYPE_CHECKING:
    from engine.pipeline.turn_commit import TurnProducts


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
    attention: dict[str, Any] = field(default_factory=dict)
    gut: dict[str, Any] | None = None
    error: str | None = None
    timings_ms: dict[str, float] = field(default_factory=dict)
    """Per stage: attention, context, gut, act, gates (as recorded) and commit."""


def attention_record(decision: AttentionDecision) -> dict[str, Any]:
    """The attention part of a record: every candidate's parts, the winner and why."""
    winner = decision.winner.candidate.id if decision.winner is not None else None
    return {
        "winner_id": winner,
        "reason": decision.reason,
        "report": decision.report,
        "candidates": [
            {
                "id": s.candidate.id,
                "source": s.candidate.source,
                "text": s.candidate.text,
                "salience": round(s.salience, 4),
                "parts": s.parts.model_dump(),
                "waited_turns": s.candidate.waited,
                "winner": s.candidate.id == winner,
            }
            for s in decision.ranked
        ],
        "dropped": [s.candidate.id for s in decision.dropped],
    }


def build_record(
    decision: AttentionDecision,
    act: ActResult,
    assembled: AssembledContext | None,
    reading: GutReading | None,
    timings: dict[str, float],
    latency_ms: float,
) -> dict[str, Any]:
    """The replayable record of a turn (the commit adds LLM call, event and memory ids).

    Args:
        decision: attention's decision.
        act: what the generate/act loop did.
        assembled: the context (None when its stage failed).
        reading: the gut reading (None without memory or when its stage failed).
        timings: milliseconds per stage.
        latency_ms: the whole turn so far.

    Returns:
        The record fields.
    """
    return {
        "attention": attention_record(decision),
        "context": [i.as_dict() for i in assembled.inclusions] if assembled else [],
        "context_tokens": assembled.sections_tokens if assembled else {},
        "context_dropped": [
            {"section": d.section, "reason": d.reason, "tokens": d.tokens, "id": d.memory_id}
            for d in assembled.dropped
        ]
        if assembled
        else [],
        "prompt": [m.model_dump(mode="json") for m in assembled.messages] if assembled else [],
        "gut": _gut(reading),
        "stop_reason": act.stop_reason,
        "error": act.error,
        "iterations": act.iterations,
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
        "offered_tools": act.offered_tools,
        "output": act.output,
        "timings_ms": timings,
        "latency_ms": round(latency_ms, 1),
    }


def _gut(reading: GutReading | None) -> dict[str, Any] | None:
    if reading is None:
        return None
    return {
        "intensity": round(reading.intensity, 6),
        "charge": round(reading.charge, 6),
        "toward": reading.toward,
        "model": reading.model,
    }


def build_outcome(
    turn_id: int, candidate_id: int, products: TurnProducts, provider: Provider
) -> TurnOutcome:
    """The outcome a caller gets back from a committed turn.

    Args:
        turn_id: the turn.
        candidate_id: the input it answered.
        products: what was committed.
        provider: the turn's provider (names when no call was made).

    Returns:
        The outcome.
    """
    act, record = products.act, products.record
    last = act.llm_results[-1] if act.llm_results else None
    return TurnOutcome(
        turn_id=turn_id,
        candidate_id=candidate_id,
        reply=act.output,
        status=products.status,
        stop_reason=act.stop_reason,
        provider=last.provider if last else provider.name,
        model=last.model if last else provider.model,
        tokens_in=sum(r.usage.tokens_in for r in act.llm_results),
        tokens_out=sum(r.usage.tokens_out for r in act.llm_results),
        latency_ms=record["latency_ms"],
        context=record["context"],
        tool_calls=[
            {"id": o.call_id, "tool": o.tool, "status": o.status, "error": o.error}
            for o in act.tool_outcomes
        ],
        attention=record["attention"],
        gut=record["gut"],
        error=act.error,
    )
