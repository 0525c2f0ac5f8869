"""The commit of one compaction plan: everything that happens inside its ONE transaction.

In order: the plan is still open; every source is still there, live, unpinned,
unlocked and unused since planning (else :class:`CompactionError` and the whole
transaction rolls back); the summary memory and its vector are inserted; a
``memory.summary.created`` and a ``memory.compaction.deleted`` event are appended;
the sources are marked deleted and their vectors purged; a tombstone is written
for each; the plan becomes ``committed``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from engine.memory.compaction_plans import (
    PlanRecord,
    insert_tombstones,
    load_open_plan,
    set_status,
)
from engine.memory.compaction_summary import CompactionError, Summary, render_summary
from engine.memory.gc_plan import DECAYED_ACCESS_SQL, PROTECTED_KINDS
from engine.memory.records import Memory, NewMemory
from engine.memory.service import MemoryService, PreparedMemories
from engine.models import EventType, NewEvent
from engine.policy.memory import CompactionSection
from engine.store.events import insert_events

SourceRow = tuple[int, str, str | None, str]
"""(memory id, kind, channel id, content) of a source memory."""


@dataclass(frozen=True)
class CommitResult:
    """What a commit did."""

    plan_id: int
    summary_memory_id: int
    deleted: int
    tombstones: int

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (the ``memory.compact_commit`` tool result)."""
        return {
            "plan_id": self.plan_id,
            "summary_memory_id": self.summary_memory_id,
            "deleted_count": self.deleted,
            "tombstones": self.tombstones,
        }


def summary_memory(
    plan: PlanRecord, summary: Summary, sources: list[Memory], embed: bool
) -> NewMemory:
    """The memory that replaces a plan's sources.

    Args:
        plan: the plan.
        summary: its validated summary.
        sources: its memories, in time order.
        embed: give it a vector (``compaction.summary.index_summary``).

    Returns:
        A ``summary`` memory about the sources' time span, linked to their events.
    """
    start, end = sources[0].time, sources[-1].time
    return NewMemory(
        kind="summary",
        content=render_summary(summary, plan.header, len(sources), start, end),
        source="compaction",
        channel_id=plan.channel_id,
        source_meta={
            "plan_id": plan.id,
            "group_key": plan.group_key,
            "format": summary.format,
            "summary": summary.model_dump(mode="json"),
            "source_ids": list(plan.source_ids),
            "time_range": {"start": start.isoformat(), "end": end.isoformat()},
        },
        event_ids=sorted({e for m in sources for e in m.event_ids}),
        event_ts=start,
        source_tag="system",
        tags=["compaction"],
        embed=embed,
    )


def check_sources(
    cur: duckdb.DuckDBPyConnection, plan: PlanRecord, section: CompactionSection, now: datetime
) -> list[SourceRow]:
    """Every source of a plan, as it is inside this transaction.

    Raises:
        CompactionError: a source is gone, deleted, pinned, locked or used again.
    """
    rows = cur.execute(
        "SELECT id, kind, channel_id, content, deleted, pinned OR locked_by_admin OR "
        "locked_by_system OR immutable OR list_has_any(tags, $tags) OR "
        f"list_contains($protected, kind), {DECAYED_ACCESS_SQL} >= $threshold "
        "FROM memories WHERE id = ANY($ids) ORDER BY id",
        {
            "ids": list(plan.source_ids),
            "tags": list(section.locks.never_delete_tags),
            "protected": [*PROTECTED_KINDS, *section.locks.never_delete_kinds],
            "now": now.timestamp(),
            "tau": section.access.tau_days * 86400.0,
            "threshold": section.access.threshold,
        },
    ).fetchall()
    found = {int(r[0]) for r in rows}
    problems = (
        ([i for i in plan.source_ids if i not in found], "no longer exist"),
        ([int(r[0]) for r in rows if r[4]], "were deleted"),
        ([int(r[0]) for r in rows if r[5]], "were pinned or locked"),
        ([int(r[0]) for r in rows if r[6]], "were used again"),
    )
    for ids, what in problems:
        if ids:
            raise CompactionError(
                f"plan {plan.id}: source memories {ids[:10]} {what} since planning"
            )
    return [(int(r[0]), str(r[1]), r[2], str(r[3])) for r in rows]


def write_commit(
    cur: duckdb.DuckDBPyConnection,
    memory: MemoryService,
    plan: PlanRecord,
    prepared: PreparedMemories,
    summary: Summary,
    section: CompactionSection,
    now: datetime,
) -> CommitResult:
    """Commit a plan inside the caller's (the writer's) transaction.

    Args:
        cur: the writer's cursor.
        memory: the memory service (inserts the summary, marks the sources deleted).
        plan: the plan as read before the transaction.
        prepared: the summary memory, embedded.
        summary: the summary.
        section: the ``compaction`` policy.
        now: the commit time.

    Returns:
        What was done. After the commit, the caller updates the in-memory indexes.

    Raises:
        CompactionError: the plan closed or a source changed meanwhile (roll back).
    """
    writer = memory.store.writer
    assert writer is not None
    load_open_plan(cur, plan.id)
    rows = check_sources(cur, plan, section, now)
    summary_id = memory.insert_prepared(cur, prepared)[0]
    ids = [r[0] for r in rows]
    common: dict[str, Any] = {"source": "compaction", "ts": now, "channel_id": plan.channel_id}
    events = [
        NewEvent(
            type=EventType.MEMORY_SUMMARY_CREATED,
            payload={
                "content": prepared.items[0].content,
                "plan_id": plan.id,
                "summary_memory_id": summary_id,
            },
            **common,
        ),
        NewEvent(
            type=EventType.MEMORY_COMPACTION_DELETED,
            payload={"plan_id": plan.id, "summary_memory_id": summary_id, "memory_ids": ids},
            **common,
        ),
    ]
    insert_events(cur, writer.ids.take("events", len(events)), events)
    memory.repo.mark_deleted(cur, ids, now)
    count = insert_tombstones(cur, rows, plan.id, summary_id, now)
    set_status(
        cur,
        plan.id,
        "committed",
        now,
        summary_memory_id=summary_id,
        summary=summary.model_dump(mode="json"),
        error=None,
    )
    return CommitResult(plan.id, summary_id, len(ids), count)
