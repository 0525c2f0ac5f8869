"""The append-only event log."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import duckdb

from engine.clock import from_naive_utc, to_naive_utc
from engine.models import Event, NewEvent
from engine.store.database import Store
from engine.store.sql import scalar

_COLUMNS = "id, ts, type, source, channel_id, author_id, author_is_bot, payload, content_hash"


def _row(event_id: int, event: NewEvent) -> tuple[Any, ...]:
    return (
        event_id,
        to_naive_utc(event.ts),
        event.type.value,
        event.source,
        event.channel_id,
        event.author_id,
        event.author_is_bot,
        json.dumps(event.payload, ensure_ascii=False, default=str),
        event.hash(),
    )


def insert_events(
    cur: duckdb.DuckDBPyConnection, first_id: int, events: Sequence[NewEvent]
) -> list[int]:
    """Insert events inside the caller's transaction (used by turn commits too).

    Args:
        cur: the writer's cursor, inside a transaction.
        first_id: the id of the first event; the rest follow consecutively.
        events: what to insert.

    Returns:
        The ids given to the events, in order.
    """
    rows = [_row(first_id + offset, event) for offset, event in enumerate(events)]
    if len(rows) == 1:
        cur.execute(f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows[0])
    elif rows:
        appender = cur.appender("events")
        appender.append_rows(rows)
        appender.flush()
    return [row[0] for row in rows]


EVENT_COLUMNS = (
    "id, ts, type, source, channel_id, author_id, author_is_bot, payload, content_hash"
)
"""The columns :func:`event_from_row` reads, in order."""


def event_from_row(row: tuple[Any, ...]) -> Event:
    """An event from a row of :data:`EVENT_COLUMNS`."""
    return Event(
        id=row[0],
        ts=from_naive_utc(row[1]),
        type=row[2],
        source=row[3],
        channel_id=row[4],
        author_id=row[5],
        author_is_bot=row[6],
        payload=json.loads(row[7]) if row[7] else {},
        content_hash=row[8],
    )


class EventLog:
    """Appends events durably and reads them back."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, event: NewEvent) -> int:
        """Append one event and wait until it is committed.

        Args:
            event: the event.

        Returns:
            Its id.

        Raises:
            StoreError: the store is read-only.
        """
        return self.append_many([event])[0]

    def append_many(self, events: Sequence[NewEvent]) -> list[int]:
        """Append events in one transaction (all or nothing) and wait for the commit.

        Args:
            events: the events, in order.

        Returns:
            Their ids, consecutive and increasing.

        Raises:
            StoreError: the store is read-only.
        """
        if not events:
            return []

        def job(cur: duckdb.DuckDBPyConnection) -> list[int]:
            assert self._store.writer is not None
            first = self._store.writer.ids.take("events", len(events))
            return insert_events(cur, first, events)

        return self._store.write(job)

    def count(self) -> int:
        """How many events are stored."""
        return int(scalar(self._store.reader(), "SELECT count(*) FROM events"))

    def tail(self, limit: int = 20, after_id: int | None = None) -> list[Event]:
        """Read events in id order.

        Args:
            limit: at most this many.
            after_id: only events with a greater id (for ``--follow``); None reads the last
                ``limit`` events.

        Returns:
            Events, oldest first.
        """
        cur = self._store.reader()
        if after_id is None:
            rows = cur.execute(
                f"SELECT {_COLUMNS} FROM (SELECT {_COLUMNS} FROM events ORDER BY id DESC LIMIT ?)"
                " ORDER BY id",
                [limit],
            ).fetchall()
        else:
            rows = cur.execute(
                f"SELECT {_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                [after_id, limit],
            ).fetchall()
        return [event_from_row(row) for row in rows]
