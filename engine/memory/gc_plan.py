"""Which memories garbage collection may compact, and how they are grouped.

A memory is a candidate when all of these hold (the policy's ``compaction`` section):

* its kind is in ``candidate_kinds`` and not in ``locks.never_delete_kinds``
  (summaries, aggregates and tombstones are never candidates, whatever the policy says);
* it was stored more than ``age_min_days`` ago (``created_at``);
* its decayed access is below ``access.threshold``: the sum over its access times
  (retrievals and context inclusions, ``memory_accesses``) of
  ``exp(-age / tau)``, with ``tau = access.tau_days``. Every inclusion logged by
  ``memory.context_log_write`` is also an access time, so this is never below the
  contract's ``included_count_decay`` decayed to now;
* it is not deleted, pinned, locked (by admin or system) or immutable, and carries
  none of ``locks.never_delete_tags``;
* no open plan (``planned`` / ``summarized``) already holds it.

Candidates are grouped by ``grouping.by`` (channel and UTC day of the time the
memory is about: its event time, else when it was stored), oldest day first, and
each group is cut, in time order, into chunks of at most ``max_source_count``
memories and ``max_source_tokens`` estimated tokens (about 4 characters per token).
Chunks smaller than ``min_source_count`` are left alone (so is a single memory over
the token limit, unless ``min_source_count`` is 1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

from engine.clock import from_naive_utc, to_naive_utc
from engine.llm.results import CHARS_PER_TOKEN
from engine.policy.memory import CompactionSection

PROTECTED_KINDS = ("summary", "aggregate", "tombstone")
"""Kinds that are never compacted, whatever the policy lists."""
OPEN_STATUSES = ("planned", "summarized")


@dataclass(frozen=True)
class PlanLimits:
    """The selection and grouping rules of one planning run."""

    age_min_days: float
    tau_days: float
    access_threshold: float
    kinds: tuple[str, ...]
    never_delete_tags: tuple[str, ...]
    group_by: tuple[str, ...]
    min_source_count: int
    max_source_count: int
    max_source_tokens: int
    max_groups: int

    @classmethod
    def from_policy(cls, policy: CompactionSection) -> PlanLimits:
        """The limits the policy sets.

        Args:
            policy: the ``compaction`` section.

        Returns:
            The limits.
        """
        never = {*policy.locks.never_delete_kinds, *PROTECTED_KINDS}
        return cls(
            age_min_days=policy.age_min_days,
            tau_days=policy.access.tau_days,
            access_threshold=policy.access.threshold,
            kinds=tuple(k for k in policy.candidate_kinds if k not in never),
            never_delete_tags=tuple(policy.locks.never_delete_tags),
            group_by=tuple(policy.grouping.by),
            min_source_count=policy.grouping.min_source_count,
            max_source_count=policy.grouping.max_source_count,
            max_source_tokens=policy.grouping.max_source_tokens,
            max_groups=policy.max_groups_per_run,
        )

    def stricter(
        self,
        age_min_days: float | None = None,
        access_threshold: float | None = None,
        max_source_tokens: int | None = None,
        max_groups: int | None = None,
    ) -> PlanLimits:
        """These limits narrowed by a caller (a tool call): never looser than the policy.

        Args:
            age_min_days: raise the minimum age.
            access_threshold: lower the access threshold.
            max_source_tokens: lower the tokens per group.
            max_groups: lower the groups per run.

        Returns:
            The narrowed limits.
        """
        return replace(
            self,
            age_min_days=max(self.age_min_days, age_min_days or 0.0),
            access_threshold=min(
                self.access_threshold,
                self.access_threshold if access_threshold is None else access_threshold,
            ),
            max_source_tokens=min(self.max_source_tokens, max_source_tokens or 10**12),
            max_groups=min(self.max_groups, max_groups or 10**9),
        )


@dataclass(frozen=True)
class Candidate:
    """One memory GC may compact."""

    id: int
    channel_id: str | None
    time: datetime
    tokens: int


@dataclass(frozen=True)
class GcGroup:
    """A group of candidates to become one summary (one plan row once persisted)."""

    plan_id: int
    group_key: str
    channel_id: str | None
    day: date | None
    source_ids: tuple[int, ...]
    estimated_tokens: int
    time_start: datetime
    time_end: datetime

    def as_dict(self) -> dict[str, Any]:
        """The group as the ``memory.gc_plan`` tool returns it."""
        return {
            "plan_id": self.plan_id,
            "group_id": str(self.plan_id),
            "group_key": self.group_key,
            "channel_id": self.channel_id,
            "day": self.day.isoformat() if self.day else None,
            "source_ids": list(self.source_ids),
            "estimated_tokens": self.estimated_tokens,
            "time_range": {
                "start": self.time_start.isoformat(),
                "end": self.time_end.isoformat(),
            },
        }


def _estimate(chars: int) -> int:
    return max(1, round(chars / CHARS_PER_TOKEN))


DECAYED_ACCESS_SQL = (
    "coalesce((SELECT sum(exp(-greatest($now - a.accessed_at, 0) / $tau)) "
    "FROM memory_accesses a WHERE a.memory_id = memories.id), 0)"
)
"""A memory's decayed access at ``$now`` (epoch seconds) with time constant ``$tau``
(in a query ``FROM memories``)."""


def iter_candidates(
    cur: duckdb.DuckDBPyConnection, limits: PlanLimits, now: datetime, batch: int = 10_000
) -> Iterator[Candidate]:
    """Stream GC candidates ordered by group (oldest day first), then time.

    Args:
        cur: a reader cursor (used by nothing else while iterating).
        limits: the selection rules.
        now: the current time.
        batch: rows fetched at a time.

    Yields:
        Candidates.
    """
    order = []
    if "day" in limits.group_by:
        order.append("CAST(t AS DATE)")
    if "channel_id" in limits.group_by:
        order.append("channel_id NULLS FIRST")
    cutoff = to_naive_utc(now - timedelta(days=limits.age_min_days))
    cur.execute(
        "SELECT id, channel_id, t, chars FROM (SELECT id, channel_id, "
        "coalesce(event_ts, created_at) AS t, length(content) AS chars FROM memories "
        "WHERE NOT deleted AND NOT pinned AND NOT locked_by_admin AND NOT locked_by_system "
        "AND NOT immutable AND list_contains($kinds, kind) AND NOT list_has_any(tags, $tags) "
        f"AND created_at < $cutoff AND {DECAYED_ACCESS_SQL} < $threshold "
        "AND id NOT IN (SELECT unnest(source_ids) FROM compaction_plans "
        "WHERE list_contains($open, status))) "
        f"ORDER BY {', '.join([*order, 't', 'id'])}",
        {
            "kinds": list(limits.kinds),
            "tags": list(limits.never_delete_tags),
            "cutoff": cutoff,
            "now": now.timestamp(),
            "tau": limits.tau_days * 86400.0,
            "threshold": limits.access_threshold,
            "open": list(OPEN_STATUSES),
        },
    )
    while rows := cur.fetchmany(batch):
        for memory_id, channel_id, t, chars in rows:
            yield Candidate(int(memory_id), channel_id, from_naive_utc(t), _estimate(int(chars)))


def _key(candidate: Candidate, by: tuple[str, ...]) -> tuple[str | None, date | None]:
    return (
        candidate.channel_id if "channel_id" in by else None,
        candidate.time.date() if "day" in by else None,
    )


def _group(chunk: list[Candidate], key: tuple[str | None, date | None], part: int) -> GcGroup:
    channel, day = key
    label = f"channel={channel or '-'} day={day.isoformat() if day else '-'} part={part}"
    return GcGroup(
        plan_id=0,
        group_key=label,
        channel_id=channel,
        day=day,
        source_ids=tuple(c.id for c in chunk),
        estimated_tokens=sum(c.tokens for c in chunk),
        time_start=chunk[0].time,
        time_end=chunk[-1].time,
    )


def group_candidates(candidates: Iterable[Candidate], limits: PlanLimits) -> list[GcGroup]:
    """Cut ordered candidates into groups within the limits (stops at ``max_groups``).

    Args:
        candidates: ordered as :func:`iter_candidates` yields them.
        limits: the grouping rules.

    Returns:
        Groups (``plan_id`` 0: not persisted yet), oldest first.
    """
    groups: list[GcGroup] = []
    chunk: list[Candidate] = []
    tokens = 0
    key: tuple[str | None, date | None] | None = None
    part = 0

    def flush() -> None:
        nonlocal chunk, tokens, part
        if len(chunk) >= limits.min_source_count and key is not None:
            part += 1
            groups.append(_group(chunk, key, part))
        chunk, tokens = [], 0

    for candidate in candidates:
        this = _key(candidate, limits.group_by)
        if this != key:
            flush()
            key, part = this, 0
        full = len(chunk) >= limits.max_source_count
        if chunk and (full or tokens + candidate.tokens > limits.max_source_tokens):
            flush()
        if len(groups) >= limits.max_groups:
            return groups
        chunk.append(candidate)
        tokens += candidate.tokens
    flush()
    return groups[: limits.max_groups]
