"""The janitor's report: a short Markdown text for the operator and the report channel.

Sections (contract section 6.4): the top spam families by duplicate count, the
top new patterns, compaction results (summaries created, memories deleted) and
suggested suppress rules (proposed only; an operator approves them).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from engine.jobs.janitor_window import top
from engine.policy import Policy

EXAMPLE_CHARS = 80


def _when(value: Any) -> str:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return str(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return "?"


def channel_label(policy: Policy, channel_id: str | None) -> str:
    """``#name`` for a channel the policy names, else ``#<id>``."""
    if not channel_id:
        return "no channel"
    listed = policy.channels.get(channel_id)
    return f"#{listed.name}" if listed else f"#{channel_id}"


def _family_line(rank: int, stat: dict[str, Any], policy: Policy) -> str:
    example = " ".join(str(stat.get("example") or "").split()).replace("`", "'")
    if len(example) > EXAMPLE_CHARS:
        example = example[: EXAMPLE_CHARS - 1] + "…"
    topic = stat.get("topic") or (
        f"family {stat['family_id']} in {channel_label(policy, stat.get('channel_id'))}"
    )
    line = (
        f"{rank}. {topic}: {stat['dup_count']} messages ({_when(stat.get('first_ts'))} to "
        f"{_when(stat.get('last_ts'))})"
    )
    return line + (f", e.g. `{example}`" if example else "")


def _rule_line(proposal: dict[str, Any], policy: Policy) -> str:
    rule = proposal.get("rule", proposal)
    where = channel_label(policy, proposal.get("channel_id"))
    if isinstance(rule, dict) and "match" in rule:
        match = rule["match"] if isinstance(rule["match"], dict) else {"value": rule["match"]}
        return (
            f"- [{proposal.get('id', '?')}] {where}: {rule.get('name', 'rule')}: "
            f"match {match.get('type', '?')} `{match.get('value', '?')}` -> "
            f"{rule.get('action', '?')}"
        )
    return f"- [{proposal.get('id', '?')}] {where}: `{json.dumps(rule, default=str)}`"


def format_report(
    window: dict[str, Any],
    *,
    now: datetime,
    policy: Policy,
    proposals: list[dict[str, Any]],
    pending_proposals: int,
    gc_note: str | None = None,
) -> str:
    """Render a report window as Markdown.

    Args:
        window: the accumulated window (:mod:`engine.jobs.janitor_window`).
        now: the report time.
        policy: ``janitor.top_n`` and channel names.
        proposals: suppress rules proposed in this window.
        pending_proposals: all proposals still waiting for an operator.
        gc_note: why compaction did not run, if it did not.

    Returns:
        The report text.
    """
    n = policy.janitor.top_n
    w = window
    lines = [
        f"**Janitor report** ({_when(now)}; "
        + (f"since {_when(w['since'])})" if w["since"] != now.isoformat() else "first report)"),
        f"{w['events_seen']} messages seen: {w['bot_events']} from bots, "
        f"{w['human_events']} from humans. {w['duplicates_collapsed']} bot duplicates "
        f"collapsed ({w['families_touched']} families; {w['aggregates_created']} aggregates "
        f"created, {w['aggregates_updated']} updated).",
        "",
        f"**Top {n} spam families** (by duplicate count)",
    ]
    families = top(w, "families", n)
    lines += [_family_line(i, s, policy) for i, s in enumerate(families, 1)] or ["(none)"]
    lines += ["", f"**Top {n} new patterns**"]
    fresh = top(w, "new_patterns", n)
    lines += [_family_line(i, s, policy) for i, s in enumerate(fresh, 1)] or ["(none)"]
    lines += [
        "",
        f"**Compaction**: {w['summaries_created']} summaries created, "
        f"{w['memories_deleted']} memories deleted ({w['tombstones']} tombstones), "
        f"{w['gc_groups_aborted']} groups aborted.",
    ]
    if gc_note:
        lines.append(f"Compaction note: {gc_note}")
    if w["abort_reasons"]:
        lines.append(f"Last abort: {w['abort_reasons'][-1]}")
    if policy.janitor.propose_suppress_rules:
        lines += ["", "**Suggested suppress rules** (proposed only; an operator approves)"]
        lines += [_rule_line(p, policy) for p in proposals] or ["(none new)"]
        if pending_proposals:
            lines.append(f"{pending_proposals} proposals wait for approval in all.")
    return "\n".join(lines)
