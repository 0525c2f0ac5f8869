"""Compaction plan rows (``compaction_plans``) and tombstones: reading and writing.

Every function taking a cursor runs inside the caller's writer transaction.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from engine.clock import from_naive_utc, to_naive_utc
from engine.costs import CostLedger
from engine.llm.base import ChatResult
from engine.memory.compaction_summary import CompactionError
from engine.memory.gc_plan import OPEN_STATUSES, GcGroup
from engine.models import content_hash

_COLUMNS = (
    "id, created_at, updated_at, status, group_key, channel_id, day, source_ids, "
    "source_tokens, time_start, time_end, summary, summarized_by, llm_call_id, "
    "summary_memory_id, error"
)


@dataclass(frozen=True)
class PlanRecord:
    """One stored compaction plan."""

    id: int
    created_at: datetime
    updated_at: datetime
    status: str
    """``planned``, ``summarized``, ``committed`` or ``aborted``."""
    group_key: str
    channel_id: str | None
    day: date | None
    source_ids: tuple[int, ...]
    source_tokens: int
    time_start: datetime | None
    time_end: datetime | None
    summary: dict[str, Any] | None
    summarized_by: str | None
    llm_call_id: int | None
    summary_memory_id: int | None
    error: str | None

    @property
    def open(self) -> bool:
        """Still on its way (``planned`` or ``summarized``)."""
        return self.status in OPEN_STATUSES

    @property
    def header(self) -> str:
        """What the group is, for prompts and summary text: ``channel 12 on 2026-01-02``."""
        channel = f"channel {self.channel_id}" if self.channel_id else "no channel"
        return f"{channel} on {self.day.isoformat()}" if self.day else channel

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (tools, job reports)."""
        return {
            "plan_id": self.id,
            "status": self.status,
            "group_key": self.group_key,
            "channel_id": self.channel_id,
            "day": self.day.isoformat() if self.day else None,
            "source_ids": list(self.source_ids),
            "estimated_tokens": self.source_tokens,
            "summary": self.summary,
            "summary_memory_id": self.summary_memory_id,
            "error": self.error,
        }


def _opt_ts(value: datetime | None) -> datetime | None:
    return from_naive_utc(value) if value is not None else None


def _record(row: Sequence[Any]) -> PlanRecord:
    return PlanRecord(
        id=int(row[0]),
        created_at=from_naive_utc(row[1]),
        updated_at=from_naive_utc(row[2]),
        status=str(row[3]),
        group_key=str(row[4]),
        channel_id=row[5],
        day=row[6],
        source_ids=tuple(int(i) for i in row[7]),
        source_tokens=int(row[8]),
        time_start=_opt_ts(row[9]),
        time_end=_opt_ts(row[10]),
        summary=json.loads(row[11]) if row[11] else None,
        summarized_by=row[12],
        llm_call_id=row[13],
        summary_memory_id=row[14],
        error=row[15],
    )


def load_plan(cur: duckdb.DuckDBPyConnection, plan_id: int) -> PlanRecord:
    """One plan.

    Args:
        cur: any cursor (the writer's inside a job, or a reader).
        plan_id: the plan.

    Returns:
        The plan.

    Raises:
        CompactionError: no such plan.
    """
    rows = cur.execute(
        f"SELECT {_COLUMNS} FROM compaction_plans WHERE id = ?", [plan_id]
    ).fetchall()
    if not rows:
        raise CompactionError(f"no compaction plan {plan_id}")
    return _record(rows[0])


def load_open_plan(cur: duckdb.DuckDBPyConnection, plan_id: int) -> PlanRecord:
    """A plan that is still open.

    Raises:
        CompactionError: no such plan, or it was already committed or aborted.
    """
    plan = load_plan(cur, plan_id)
    if not plan.open:
        detail = f" ({plan.error})" if plan.error else ""
        raise CompactionError(f"compaction plan {plan_id} is already {plan.status}{detail}")
    return plan


def insert_plans(
    cur: duckdb.DuckDBPyConnection, first_id: int, groups: Sequence[GcGroup], now: datetime
) -> list[GcGroup]:
    """Store groups as ``planned`` plans with consecutive ids.

    Returns:
        The groups with their plan ids.
    """
    stamp = to_naive_utc(now)
    stored = []
    for offset, group in enumerate(groups):
        plan_id = first_id + offset
        cur.execute(
            "INSERT INTO compaction_plans (id, created_at, updated_at, status, group_key, "
            "channel_id, day, source_ids, source_tokens, time_start, time_end) "
            "VALUES (?, ?, ?, 'planned', ?, ?, ?, ?, ?, ?, ?)",
            [
                plan_id,
                stamp,
                stamp,
                group.group_key,
                group.channel_id,
                group.day,
                list(group.source_ids),
                group.estimated_tokens,
                to_naive_utc(group.time_start),
                to_naive_utc(group.time_end),
            ],
        )
        stored.append(replace(group, plan_id=plan_id))
    return stored


def set_status(
    cur: duckdb.DuckDBPyConnection, plan_id: int, status: str, now: datetime, **fields: Any
) -> None:
    """Move a plan to ``status`` and set other columns (``summary`` as a dict is JSON-encoded)."""
    if isinstance(fields.get("summary"), dict):
        fields["summary"] = json.dumps(fields["summary"], sort_keys=True)
    names = ["status", "updated_at", *fields]
    values = [status, to_naive_utc(now), *fields.values()]
    cur.execute(
        "UPDATE compaction_plans SET "
        + ", ".join(f"{name} = ?" for name in names)
        + " WHERE id = ?",
        [*values, plan_id],
    )


def record_summary(
    cur: duckdb.DuckDBPyConnection,
    ledger: CostLedger,
    plan_id: int,
    result: ChatResult,
    summary: dict[str, Any] | None,
    error: str | None,
    now: datetime,
) -> None:
    """Record a summarizing call (``llm_calls``) and its outcome on an open plan:
    ``summarized`` with the summary, or ``aborted`` with why it was invalid.

    Raises:
        CompactionError: the plan closed meanwhile (it stays as it is).
    """
    load_open_plan(cur, plan_id)
    status = "ok" if summary is not None else "invalid"
    call_id = ledger.insert(cur, None, result, status=status, error=error)
    by = f"{result.provider}/{result.model}"
    if summary is None:
        set_status(cur, plan_id, "aborted", now, error=error, llm_call_id=call_id, summarized_by=by)
    else:
        set_status(
            cur,
            plan_id,
            "summarized",
            now,
            llm_call_id=call_id,
            summarized_by=by,
            summary=summary,
            error=None,
        )


def expire_open_plans(cur: duckdb.DuckDBPyConnection, older_than: timedelta, now: datetime) -> int:
    """Abort plans left open longer than ``older_than`` (a crashed or abandoned run),
    so their memories can be planned again.

    Returns:
        How many were expired.
    """
    cutoff = to_naive_utc(now - older_than)
    rows = cur.execute(
        "UPDATE compaction_plans SET status = 'aborted', updated_at = ?, "
        "error = 'expired: left open longer than one compaction interval' "
        "WHERE list_contains(?, status) AND created_at < ? RETURNING id",
        [to_naive_utc(now), list(OPEN_STATUSES), cutoff],
    ).fetchall()
    return len(rows)


def insert_tombstones(
    cur: duckdb.DuckDBPyConnection,
    sources: Sequence[tuple[int, str, str | None, str]],
    plan_id: int,
    summary_memory_id: int,
    now: datetime,
) -> int:
    """One tombstone per compacted memory.

    Args:
        cur: the writer's cursor.
        sources: (memory id, kind, channel id, content) of each.
        plan_id: the plan that compacted them.
        summary_memory_id: the summary that replaced them.
        now: deletion time.

    Returns:
        How many were written.
    """
    if not sources:
        return 0
    cur.execute(
        "INSERT INTO tombstones (memory_id, deleted_at, reason, plan_id, summary_memory_id, "
        "kind, channel_id, content_hash) SELECT unnest($1), $2, 'compaction', $3, $4, "
        "unnest($5), unnest($6), unnest($7)",
        [
            [s[0] for s in sources],
            to_naive_utc(now),
            plan_id,
            summary_memory_id,
            [s[1] for s in sources],
            [s[2] for s in sources],
            [content_hash(s[3]) for s in sources],
        ],
    )
    return len(sources)
