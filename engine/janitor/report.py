"""What an aggregator run reports, and the suppress rules it proposes from that.

Suppress rules are only ever *proposed* (``status: proposed``): an operator approves
them. A family whose messages all normalize to one text gets an ``exact_hash`` match;
a family that also caught near duplicates gets a ``simhash_family`` match on its
founding simhash. The action is always ``aggregate_only`` (keep the events, count
them into the aggregate, mint no per-message memory).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from engine.janitor.tables import load_families
from engine.policy import Policy
from engine.store.sql import scalar


@dataclass
class FamilyStat:
    """One spam family as a report lists it (JSON-safe via ``dataclasses.asdict``)."""

    family_id: int
    channel_id: str | None
    topic: str
    dup_count: int
    """Messages in the family, all days."""
    first_ts: datetime
    last_ts: datetime
    example: str
    new_today: bool
    """The family's first message is from the clock's current UTC day."""


@dataclass
class AggregateReport:
    """What one ``Aggregator.process_pending`` run did."""

    events_seen: int
    bot_events: int
    human_events: int
    duplicates_collapsed: int
    """Bot messages matched as a duplicate of an earlier one (exact or near)."""
    families_touched: int
    aggregates_created: int
    aggregates_updated: int
    """Aggregates that existed before this run and were rewritten by it."""
    top_families: list[FamilyStat]
    """Families that grew in this run, largest first (at most ``janitor.top_n``)."""
    new_patterns: list[FamilyStat]
    """Families first seen in this run, largest first (at most ``janitor.top_n``)."""


def suppress_suggestions(
    cur: duckdb.DuckDBPyConnection, policy: Policy, report: AggregateReport
) -> list[dict[str, Any]]:
    """Propose a suppress rule for each large family in a report.

    Args:
        cur: a reader cursor.
        policy: ``janitor.propose_suppress_rules`` and ``dedupe.suggest_min_dup_count``.
        report: the aggregator's report.

    Returns:
        ``discord.add_suppress_rule`` argument dicts (``channel_id``, ``rule``) with
        ``family_id``, ``dup_count``, ``reason`` and ``status: proposed``, largest
        family first; empty when the policy does not propose rules.
    """
    if not policy.janitor.propose_suppress_rules:
        return []
    out: list[dict[str, Any]] = []
    seen: set[int] = set()
    for stat in [*report.top_families, *report.new_patterns]:
        if stat.family_id in seen or stat.dup_count < policy.dedupe.suggest_min_dup_count:
            continue
        seen.add(stat.family_id)
        family = load_families(cur, [stat.family_id])[stat.family_id]
        texts = scalar(
            cur,
            "SELECT count(DISTINCT exact_hash) FROM event_fingerprints WHERE family_id = ?",
            [stat.family_id],
        )
        match = (
            {"type": "exact_hash", "value": family.exact_hash}
            if texts == 1
            else {"type": "simhash_family", "value": f"{family.simhash:#018x}"}
        )
        out.append(
            {
                "status": "proposed",
                "family_id": stat.family_id,
                "dup_count": stat.dup_count,
                "channel_id": stat.channel_id,
                "rule": {
                    "name": f"spam-family-{stat.family_id}",
                    "match": match,
                    "action": "aggregate_only",
                },
                "reason": f"{stat.dup_count} messages: {stat.topic}",
            }
        )
    out.sort(key=lambda rule: -int(rule["dup_count"]))
    return out
