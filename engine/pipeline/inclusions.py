"""What went into a context: one row per memory in ``context_inclusions`` (its
section, rank, score and explanation) and the memories' access statistics.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import duckdb

from engine.clock import to_naive_utc
from engine.memory.retrieval_effects import record_inclusions as log_access
from engine.memory.scoring_rows import epoch_us
from engine.memory.service import MemoryService
from engine.memory.stat_updates import MemoryStatUpdates
from engine.signals import ContextRetrieved


@dataclass(frozen=True)
class Inclusion:
    """One memory in the context."""

    memory_id: int
    section: Literal["related", "identity"]
    rank: int
    """1-based position within its section."""
    score: float
    """Related: the search score; identity: the value the weight rolled."""
    explain: dict[str, Any]
    tokens: int
    kind: str = ""
    content: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For the turn record and the ``context.retrieved`` signal."""
        return {
            "id": self.memory_id,
            "section": self.section,
            "rank": self.rank,
            "kind": self.kind,
            "content": self.content,
            "score": self.score,
            "tokens": self.tokens,
            "explain": self.explain,
        }


def inclusions_signal(
    inclusions: Sequence[Inclusion], query: str, ts: datetime, turn_id: int | None
) -> ContextRetrieved:
    """The ``context.retrieved`` signal: every memory that went in, with its section,
    score and explanation (identity ones included).

    Args:
        inclusions: what the assembler chose.
        query: the attention focus retrieval was keyed on.
        ts: the signal time.
        turn_id: the turn.

    Returns:
        The signal.
    """
    return ContextRetrieved(
        ts=ts, turn_id=turn_id, query=query, memories=[i.as_dict() for i in inclusions]
    )


def record_inclusions(
    cur: duckdb.DuckDBPyConnection,
    turn_id: int | None,
    inclusions: Sequence[Inclusion],
    ts: datetime,
    memory: MemoryService,
    stats: MemoryStatUpdates | None = None,
) -> int:
    """Log what went into a context and update the memories' access statistics.

    Runs inside the caller's transaction (the turn commit). The access update is
    :func:`engine.memory.retrieval_effects.record_inclusions` (decayed inclusion
    count, ``last_included_at``, an access time), each row logged with its section,
    rank, score and explanation. The scoring cache is the caller's:
    :func:`cache_inclusions` once the transaction has committed.

    Args:
        cur: the writer's cursor.
        turn_id: the turn.
        inclusions: what :meth:`ContextAssembler.assemble` returned.
        ts: the inclusion time.
        memory: the memory service (decay constant).
        stats: collects the access statistics for the turn's one UPDATE.

    Returns:
        How many inclusions were recorded.
    """
    if not inclusions:
        return 0
    now = to_naive_utc(ts)
    tau = memory.policy.compaction.access.tau_days * 86400
    context_id = f"turn:{turn_id}:assembled"
    items = [(i.memory_id, i.tokens) for i in inclusions]
    details = [
        (
            i.section,
            i.rank,
            float(i.score),
            json.dumps({**i.explain, "tokens": i.tokens, "context_id": context_id}, default=str),
        )
        for i in inclusions
    ]
    return log_access(cur, turn_id, context_id, items, now, tau, details, stats)


def cache_inclusions(memory: MemoryService, inclusions: Sequence[Inclusion], ts: datetime) -> None:
    """The scoring cache's side of :func:`record_inclusions`: one access per inclusion.

    Args:
        memory: the memory service.
        inclusions: what went into the context.
        ts: the inclusion time.
    """
    if inclusions:
        stamp = epoch_us(to_naive_utc(ts)) / 10**6
        memory.scoring.record_access([i.memory_id for i in inclusions], stamp)
