"""Reading the janitor's tables (``m005_janitor``): fingerprints, families, aggregates.

Reads take a reader cursor (the writes are in :mod:`engine.janitor.commit`).
Timestamps are stored naive UTC and come back timezone-aware.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import duckdb

from engine.clock import from_naive_utc, to_naive_utc
from engine.memory.minting import MESSAGE_EVENTS
from engine.memory.normalize import Fingerprint

_TYPES = sorted(MESSAGE_EVENTS)
_PENDING = """
    FROM events e
    WHERE e.type IN (?, ?)
      AND NOT EXISTS (SELECT 1 FROM event_fingerprints f WHERE f.event_id = e.id)
"""


@dataclass(frozen=True, slots=True)
class PendingEvent:
    """A message event not fingerprinted yet, with what dedupe needs of its payload."""

    id: int
    ts: datetime
    channel_id: str | None
    author_id: str | None
    author_is_bot: bool
    text: str
    """The content, with the text of its embeds (bots often post only embeds)."""
    author_name: str | None
    channel_name: str | None


@dataclass
class FamilyRow:
    """One spam family (a row of ``spam_families``), updated in memory during a run."""

    id: int
    channel_id: str | None
    channel_name: str | None
    author_id: str | None
    author_name: str | None
    topic: str
    exact_hash: str
    simhash: int
    numbers: str
    normalized_example: str
    example: str
    dup_count: int
    near_count: int
    first_ts: datetime
    last_ts: datetime
    is_new: bool = False


@dataclass
class AggregateRow:
    """One family's aggregate for one UTC day (a row of ``aggregates``)."""

    family_id: int
    day: date
    memory_id: int | None
    dup_count: int
    first_ts: datetime
    last_ts: datetime
    sample_event_ids: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)


def pending_ids(cur: duckdb.DuckDBPyConnection, limit: int | None = None) -> list[int]:
    """Message events without a fingerprint, oldest first (by time, then id).

    Args:
        cur: a reader cursor.
        limit: at most this many (None: all).

    Returns:
        Their event ids.
    """
    sql = f"SELECT e.id {_PENDING} ORDER BY e.ts, e.id"
    params: list[Any] = list(_TYPES)
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    return [int(i) for i in cur.execute(sql, params).fetchnumpy()["id"].tolist()]


def pending_events(cur: duckdb.DuckDBPyConnection, ids: Sequence[int]) -> list[PendingEvent]:
    """Some events with what dedupe needs of their payload, by time then id.

    Args:
        cur: a reader cursor.
        ids: the events (from :func:`pending_ids`).

    Returns:
        The events.
    """
    rows = cur.execute(
        "SELECT e.id, e.ts, e.channel_id, e.author_id, e.author_is_bot, "
        "coalesce(json_extract_string(e.payload, '$.content'), ''), "
        "json_extract_string(e.payload, '$.embed_text'), "
        "json_extract_string(e.payload, '$.author_name'), "
        "json_extract_string(e.payload, '$.channel_name') "
        "FROM events e WHERE e.id IN (SELECT unnest(?)) ORDER BY e.ts, e.id",
        [list(ids)],
    ).fetchall()
    return [
        PendingEvent(
            id=int(r[0]),
            ts=from_naive_utc(r[1]),
            channel_id=r[2],
            author_id=r[3],
            author_is_bot=bool(r[4]),
            text=f"{r[5]}\n{r[6]}" if r[6] else str(r[5]),
            author_name=r[7],
            channel_name=r[8],
        )
        for r in rows
    ]


def _fingerprint(row: Sequence[Any]) -> Fingerprint:
    return Fingerprint(str(row[0]), str(row[1]), int(row[2]), str(row[3]))


def recent_bot_fingerprints(
    cur: duckdb.DuckDBPyConnection, since: datetime
) -> list[tuple[int, str | None, datetime, Fingerprint, int | None]]:
    """Processed bot messages since a time (to warm the matcher), oldest first.

    Returns:
        (event id, channel, time, fingerprint, family id) tuples.
    """
    rows = cur.execute(
        "SELECT event_id, channel_id, ts, normalized, exact_hash, simhash64, numbers, family_id "
        "FROM event_fingerprints WHERE author_is_bot AND ts >= ? ORDER BY ts, event_id",
        [to_naive_utc(since)],
    ).fetchall()
    return [(int(r[0]), r[1], from_naive_utc(r[2]), _fingerprint(r[3:7]), r[7]) for r in rows]


def family_patterns(
    cur: duckdb.DuckDBPyConnection,
) -> list[tuple[int, str | None, Fingerprint]]:
    """Every distinct text seen in a family: (family id, channel, fingerprint)."""
    rows = cur.execute(
        "SELECT DISTINCT family_id, channel_id, normalized, exact_hash, simhash64, numbers "
        "FROM event_fingerprints WHERE family_id IS NOT NULL ORDER BY family_id"
    ).fetchall()
    return [(int(r[0]), r[1], _fingerprint(r[2:6])) for r in rows]


FAMILY_COLUMNS = (
    "id, channel_id, channel_name, author_id, author_name, topic, exact_hash, simhash64, "
    "numbers, normalized_example, example, dup_count, near_count, first_ts, last_ts"
)


def _family(r: Sequence[Any]) -> FamilyRow:
    return FamilyRow(
        id=int(r[0]),
        channel_id=r[1],
        channel_name=r[2],
        author_id=r[3],
        author_name=r[4],
        topic=str(r[5]),
        exact_hash=str(r[6]),
        simhash=int(r[7]),
        numbers=str(r[8]),
        normalized_example=str(r[9]),
        example=str(r[10]),
        dup_count=int(r[11]),
        near_count=int(r[12]),
        first_ts=from_naive_utc(r[13]),
        last_ts=from_naive_utc(r[14]),
    )


def load_families(cur: duckdb.DuckDBPyConnection, ids: Iterable[int]) -> dict[int, FamilyRow]:
    """Families by id (missing ids are absent)."""
    rows = cur.execute(
        f"SELECT {FAMILY_COLUMNS} FROM spam_families WHERE id = ANY(?)", [list(ids)]
    ).fetchall()
    return {int(r[0]): _family(r) for r in rows}


def _aggregate(r: Sequence[Any]) -> AggregateRow:
    return AggregateRow(
        family_id=int(r[0]),
        day=r[1],
        memory_id=int(r[2]),
        dup_count=int(r[3]),
        first_ts=from_naive_utc(r[4]),
        last_ts=from_naive_utc(r[5]),
        sample_event_ids=[int(x) for x in r[6]],
        examples=list(r[7]),
    )


def load_aggregates(
    cur: duckdb.DuckDBPyConnection, family_ids: Iterable[int]
) -> dict[tuple[int, date], AggregateRow]:
    """The aggregates of some families, by (family, day)."""
    rows = cur.execute(
        "SELECT family_id, day, memory_id, dup_count, first_ts, last_ts, sample_event_ids, "
        "examples FROM aggregates WHERE family_id = ANY(?)",
        [list(family_ids)],
    ).fetchall()
    return {(int(r[0]), r[1]): _aggregate(r) for r in rows}


def duplicate_event_ids(cur: duckdb.DuckDBPyConnection, event_ids: Sequence[int]) -> set[int]:
    """Which of these events are raw bot duplicates (matched as a duplicate of an earlier
    message): minting passes ``duplicate=True`` for them, so they are never embedded.

    Args:
        cur: a reader cursor.
        event_ids: the events to ask about.

    Returns:
        The subset that are duplicates.
    """
    rows = cur.execute(
        "SELECT event_id FROM event_fingerprints "
        "WHERE match_kind IS NOT NULL AND event_id IN (SELECT unnest(?))",
        [list(event_ids)],
    ).fetchall()
    return {int(r[0]) for r in rows}
