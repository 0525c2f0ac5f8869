"""What an aggregate memory says: the structured record and the short text the LLM sees.

The record follows the aggregate template of the janitor contract (kind
``aggregate``, ``aggregate_type`` ``discord.bot_spam_family``, topic, time range,
channel, dup_count, fingerprints, example snippets, recognition signals, suggested
actions, sample source event ids). The content is short and structured: what it
is, how often, how to recognize it, what to do about it.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from engine.janitor.tables import AggregateRow, FamilyRow

AGGREGATE_TYPE = "discord.bot_spam_family"
SNIPPET_CHARS = 160
"""Longest example snippet kept in an aggregate (longer ones end in an ellipsis)."""
_GIST_WORDS = 8
_PLACEHOLDER_WORD = re.compile(r"\S*<[a-z]+>\S*")
_URL = re.compile(r"https?://\S+")


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line of at most ``limit`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def where(family: FamilyRow) -> str:
    """How a report names the family's channel."""
    if family.channel_name:
        return f"#{family.channel_name}"
    return f"channel {family.channel_id}" if family.channel_id else "the console"


def who(family: FamilyRow) -> str:
    """How a report names the family's bot."""
    return family.author_name or (f"bot {family.author_id}" if family.author_id else "a bot")


def family_topic(family: FamilyRow) -> str:
    """A short human topic: who repeats what where."""
    gist = " ".join(family.normalized_example.split()[:_GIST_WORDS])
    return f'{who(family)} spam in {where(family)}: "{snippet(gist, 80)}"'


def recognition_signals(family: FamilyRow, threshold: int) -> list[str]:
    """How to recognize the family's messages."""
    signals = [
        f"same text after normalization (exact hash {family.exact_hash[:12]})"
        if family.near_count == 0
        else f"near-identical text (simhash within {threshold} bits of {family.simhash:#018x})"
    ]
    signals.append(f"posted by {who(family)} in {where(family)}")
    seen: set[str] = set()
    for found in _PLACEHOLDER_WORD.findall(family.normalized_example):
        word = found.strip(".,;:!?()[]'\"")
        if word not in seen and not word.startswith("http"):
            seen.add(word)
            signals.append(f'contains token "{word}"')
        if len(seen) >= 3:
            break
    for url in _URL.findall(family.normalized_example)[:2]:
        host = urlsplit(url).netloc
        signals.append(f"links to {host}" if host else f"contains url {url}")
    return signals


def suggested_actions(family: FamilyRow) -> list[str]:
    """What an operator could do about the family (never done automatically)."""
    return [
        f"mute {who(family)} in {where(family)}",
        f"approve a suppress rule (aggregate_only) for spam family {family.id}",
    ]


def rate_per_hour(count: int, start: datetime, end: datetime) -> float:
    """Messages per hour over a span (a span under an hour counts as one hour)."""
    hours = max((end - start).total_seconds() / 3600, 1.0)
    return round(count / hours, 1)


def aggregate_record(family: FamilyRow, row: AggregateRow, threshold: int) -> dict[str, Any]:
    """The structured aggregate (stored in the memory's ``source_meta``).

    Args:
        family: the family, with its totals.
        row: the day's aggregate.
        threshold: the policy's simhash threshold (named in the signals).

    Returns:
        A JSON-ready dict.
    """
    return {
        "kind": "aggregate",
        "aggregate_type": AGGREGATE_TYPE,
        "family_id": family.id,
        "day": row.day.isoformat(),
        "topic": family.topic,
        "time_range": {"start": row.first_ts.isoformat(), "end": row.last_ts.isoformat()},
        "channel_id": family.channel_id,
        "channel_name": family.channel_name,
        "author_kind": "bot",
        "author_id": family.author_id,
        "author_name": family.author_name,
        "fingerprints": {"exact_hash": family.exact_hash, "simhash64": f"{family.simhash:#018x}"},
        "dup_count": row.dup_count,
        "example_snippets": [family.normalized_example, *row.examples],
        "recognition_signals": recognition_signals(family, threshold),
        "actions_suggested": suggested_actions(family),
        "source_event_ids_sample": row.sample_event_ids,
    }


def aggregate_content(family: FamilyRow, row: AggregateRow, threshold: int) -> str:
    """The text of an aggregate memory: what, how often, how to recognize, what to do.

    Args:
        family: the family.
        row: the day's aggregate.
        threshold: the policy's simhash threshold.

    Returns:
        A few short lines.
    """
    span = f"{row.first_ts:%H:%M}-{row.last_ts:%H:%M} UTC"
    rate = rate_per_hour(row.dup_count, row.first_ts, row.last_ts)
    lines = [
        f"Bot spam family {family.id}: {who(family)} repeated one message "
        f"{row.dup_count} times in {where(family)} on {row.day.isoformat()} ({span}, "
        f"~{rate}/hour).",
        f'Looks like: "{snippet(family.normalized_example)}"',
        "Recognize: " + "; ".join(recognition_signals(family, threshold)),
        "Examples: " + " | ".join(f'"{snippet(e, 100)}"' for e in row.examples),
        "Suggested: " + "; ".join(suggested_actions(family)),
    ]
    return "\n".join(lines)
