"""What the janitor accumulates between two reports, and what it has spent.

Janitor runs are frequent (``janitor.interval_minutes``); reports are not
(``janitor.report_interval_minutes``). Each run folds its aggregation and
compaction counts into a *window* kept in ``job_state.state["window"]``; a
report renders the window and starts a new one.

Also here: the hourly action budget (``janitor.max_actions_per_hour``), counted
from the ``actions`` of the janitor's runs in the last hour, and the suppress-rule
proposals (stored ``proposed``; an operator approves them).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

import duckdb

from engine.clock import to_naive_utc
from engine.store.sql import scalar

COUNTERS = (
    "events_seen",
    "bot_events",
    "human_events",
    "duplicates_collapsed",
    "families_touched",
    "aggregates_created",
    "aggregates_updated",
    "gc_groups_planned",
    "summaries_created",
    "memories_deleted",
    "tombstones",
    "gc_groups_aborted",
)
STAT_FIELDS = (
    "family_id",
    "channel_id",
    "topic",
    "dup_count",
    "first_ts",
    "last_ts",
    "example",
    "new_today",
)
KEPT_FAMILIES = 50
"""Families a window remembers (the report shows ``janitor.top_n`` of them)."""


def new_window(since: datetime) -> dict[str, Any]:
    """An empty window starting at ``since``."""
    return {
        "since": since.isoformat(),
        **{name: 0 for name in COUNTERS},
        "families": {},
        "new_patterns": {},
        "abort_reasons": [],
    }


def stat_dict(stat: Any) -> dict[str, Any]:
    """A family statistic (dataclass, pydantic model or dict) as a JSON-safe dict."""
    if isinstance(stat, dict):
        raw = stat
    elif dataclasses.is_dataclass(stat) and not isinstance(stat, type):
        raw = dataclasses.asdict(stat)
    elif hasattr(stat, "model_dump"):
        raw = stat.model_dump()
    else:
        raw = {name: getattr(stat, name, None) for name in STAT_FIELDS}
    out = {name: raw.get(name) for name in STAT_FIELDS}
    for name in ("first_ts", "last_ts"):
        value = out[name]
        if isinstance(value, datetime):
            out[name] = value.isoformat()
    out["family_id"] = str(out["family_id"])
    out["dup_count"] = int(out["dup_count"] or 0)
    return out


def _merge_stats(kept: dict[str, Any], stats: list[Any]) -> dict[str, Any]:
    for stat in stats:
        item = stat_dict(stat)
        kept[item["family_id"]] = item  # the newest numbers of a family win
    best = sorted(kept.values(), key=lambda s: (-s["dup_count"], s["family_id"]))
    return {s["family_id"]: s for s in best[:KEPT_FAMILIES]}


def add_aggregation(window: dict[str, Any], report: Any) -> None:
    """Fold an ``AggregateReport`` into the window.

    Args:
        window: from :func:`new_window` (changed in place).
        report: the aggregator's report for one run.
    """
    for name in COUNTERS[:7]:
        window[name] += int(getattr(report, name, 0) or 0)
    window["families"] = _merge_stats(window["families"], list(report.top_families))
    window["new_patterns"] = _merge_stats(window["new_patterns"], list(report.new_patterns))


def add_compaction(window: dict[str, Any], gc: dict[str, Any]) -> None:
    """Fold one run's compaction counts into the window (in place)."""
    window["gc_groups_planned"] += int(gc.get("planned", 0))
    window["summaries_created"] += int(gc.get("summaries_created", 0))
    window["memories_deleted"] += int(gc.get("memories_deleted", 0))
    window["tombstones"] += int(gc.get("tombstones", 0))
    window["gc_groups_aborted"] += int(gc.get("aborted", 0))
    window["abort_reasons"] = (window["abort_reasons"] + list(gc.get("errors", [])))[-5:]


def top(window: dict[str, Any], key: str, n: int) -> list[dict[str, Any]]:
    """The ``n`` families (``key="families"``) or new patterns with most duplicates."""
    items = list(window[key].values())
    return sorted(items, key=lambda s: (-s["dup_count"], s["family_id"]))[:n]


def actions_last_hour(cur: duckdb.DuckDBPyConnection, job: str, now: datetime) -> int:
    """Actions (posts, compactions) the job's runs recorded in the hour before ``now``."""
    value = scalar(
        cur,
        "SELECT coalesce(sum(TRY_CAST(json_extract(detail, '$.actions') AS INTEGER)), 0) "
        "FROM job_runs WHERE job = ? AND started_at > ?",
        [job, to_naive_utc(now - timedelta(hours=1))],
    )
    return int(value or 0)


def rule_key(suggestion: dict[str, Any]) -> str:
    """A stable key of a suggestion: its channel and spam family (or, without a family,
    its rule), so a family that keeps growing is proposed once."""
    family = suggestion.get("family_id")
    rule = suggestion.get("rule", suggestion) if family is None else None
    basis = {"channel_id": suggestion.get("channel_id"), "family_id": family, "rule": rule}
    text = json.dumps(basis, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def store_proposals(
    cur: duckdb.DuckDBPyConnection,
    first_id: int,
    suggestions: list[dict[str, Any]],
    run_id: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """Record suggested suppress rules as ``proposed`` (each rule at most once, ever).

    Args:
        cur: the writer's cursor (inside a transaction).
        first_id: the first free ``suppress_rule_proposals`` id.
        suggestions: from ``Aggregator.suppress_suggestions``.
        run_id: the janitor run proposing them.
        now: the time.

    Returns:
        The suggestions that were new, each with its proposal ``id``.
    """
    known = {r[0] for r in cur.execute("SELECT rule_key FROM suppress_rule_proposals").fetchall()}
    added: list[dict[str, Any]] = []
    for suggestion in suggestions:
        key = rule_key(suggestion)
        if key in known:
            continue
        known.add(key)
        proposal_id = first_id + len(added)
        family = suggestion.get("family_id")
        cur.execute(
            "INSERT INTO suppress_rule_proposals (id, created_at, job_run_id, channel_id, "
            "family_id, rule_key, rule, status) VALUES (?, ?, ?, ?, ?, ?, ?, 'proposed')",
            [
                proposal_id,
                to_naive_utc(now),
                run_id,
                suggestion.get("channel_id"),
                None if family is None else str(family),
                key,
                json.dumps(suggestion, ensure_ascii=False, default=str),
            ],
        )
        added.append({"id": proposal_id, **suggestion})
    return added


def pending_proposals(cur: duckdb.DuckDBPyConnection) -> int:
    """How many suppress-rule proposals still wait for an operator."""
    return int(
        scalar(cur, "SELECT count(*) FROM suppress_rule_proposals WHERE status = 'proposed'") or 0
    )
