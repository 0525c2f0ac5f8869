"""The durable attention queue: pending candidates are rows in ``candidates``.

A candidate is inserted in the same transaction as its input event (so a crash
loses none), read back by :meth:`CandidateQueue.pending`, and each turn's
:class:`~engine.mind.attention.AttentionDecision` is written back in one
transaction: the winner ``won`` (with its turn), the losers' decayed urgency and
``waited``, the dropped ones ``dropped``; every row keeps the salience and parts it
was last weighed with.
"""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from engine.clock import Clock, from_naive_utc, to_naive_utc
from engine.mind.attention import AttentionDecision, Candidate, Scored
from engine.store import Store
from engine.store.sql import scalar

_COLUMNS = "id, source, text, created_at, urgency, waited, channel_id, event_id, source_tag"


class CandidateQueue:
    """Pending inputs over the ``candidates`` table."""

    def __init__(self, store: Store, clock: Clock | None = None) -> None:
        """Create the queue.

        Args:
            store: the store holding ``candidates``.
            clock: stamps ``decided_at`` (default: the store's clock).
        """
        self.store = store
        self.clock: Clock = clock or store.clock

    def insert(
        self,
        cur: duckdb.DuckDBPyConnection,
        *,
        source: str,
        text: str,
        created_at: datetime,
        urgency: float,
        source_tag: str,
        channel_id: str | None = None,
        event_id: int | None = None,
    ) -> int:
        """Queue a candidate inside the caller's transaction (a ``store.write`` job).

        Args:
            cur: the writer's cursor.
            source: ``operator``, ``channel``, ``gut``, ``job`` or ``dmn``.
            text: the input.
            created_at: when it came in.
            urgency: its starting urgency (``Attention.urgency_for(source)``).
            source_tag: the source tag tools check (``operator``, ``dmn``, ...).
            channel_id: where it came from.
            event_id: its input event.

        Returns:
            The candidate id.

        Raises:
            StoreError: the store is read-only.
        """
        assert self.store.writer is not None, "insert runs inside a store.write job"
        candidate_id = self.store.writer.ids.take("candidates")
        cur.execute(
            "INSERT INTO candidates (id, event_id, source, source_tag, channel_id, text, "
            "created_at, urgency, waited, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'pending')",
            [
                candidate_id,
                event_id,
                source,
                source_tag,
                channel_id,
                text,
                to_naive_utc(created_at),
                float(urgency),
            ],
        )
        return candidate_id

    def add(
        self,
        *,
        source: str,
        text: str,
        urgency: float,
        source_tag: str,
        created_at: datetime | None = None,
        channel_id: str | None = None,
        event_id: int | None = None,
    ) -> int:
        """Queue a candidate in its own transaction (see :meth:`insert`).

        Returns:
            The candidate id.
        """
        when = created_at or self.clock.now()
        return self.store.write(
            lambda cur: self.insert(
                cur,
                source=source,
                text=text,
                created_at=when,
                urgency=urgency,
                source_tag=source_tag,
                channel_id=channel_id,
                event_id=event_id,
            )
        )

    def pending(self) -> list[Candidate]:
        """The pending candidates, oldest first."""
        rows = (
            self.store.reader()
            .execute(
                f"SELECT {_COLUMNS} FROM candidates WHERE status = 'pending' "
                "ORDER BY created_at, id"
            )
            .fetchall()
        )
        return [
            Candidate(
                id=int(r[0]),
                source=str(r[1]),
                text=str(r[2]),
                created_at=from_naive_utc(r[3]),
                urgency=float(r[4]),
                waited=int(r[5]),
                channel_id=r[6],
                event_id=None if r[7] is None else int(r[7]),
                source_tag=str(r[8]),
            )
            for r in rows
        ]

    def depth(self) -> int:
        """How many candidates are pending."""
        return int(
            scalar(self.store.reader(), "SELECT count(*) FROM candidates WHERE status = 'pending'")
        )

    def apply_in(
        self,
        cur: duckdb.DuckDBPyConnection,
        decision: AttentionDecision,
        turn_id: int | None,
        now: datetime | None = None,
    ) -> None:
        """Write a decision inside the caller's transaction (e.g. the one opening the turn).

        Args:
            cur: the writer's cursor.
            decision: what ``Attention.decide`` returned.
            turn_id: the turn the winner takes.
            now: ``decided_at`` (default: the clock).
        """
        stamp = to_naive_utc(now or self.clock.now())
        salience = {s.candidate.id: s for s in decision.ranked}
        rows: list[tuple[int, str, float, int, float | None, str | None]] = []
        if decision.winner is not None:
            w = decision.winner
            c = w.candidate
            rows.append((c.id, "won", float(c.urgency), int(c.waited), w.salience, _parts(w)))
        for c in decision.queued:
            s = salience.get(c.id)
            rescored = decision.rescored.get(c.id, s.salience if s else None)
            parts = _parts(s) if s else None
            rows.append((c.id, "pending", float(c.urgency), int(c.waited), rescored, parts))
        for d in decision.dropped:
            c = d.candidate
            rescored = decision.rescored.get(c.id, d.salience)
            rows.append((c.id, "dropped", float(c.urgency), int(c.waited), rescored, _parts(d)))
        if rows:  # one statement: the winner won, the losers queued (decayed) or dropped
            cur.execute(
                "UPDATE candidates AS c SET status = u.status, salience = u.salience, "
                "parts = u.parts, "
                "urgency = CASE WHEN u.status = 'pending' THEN u.urgency ELSE c.urgency END, "
                "waited = CASE WHEN u.status = 'pending' THEN u.waited ELSE c.waited END, "
                "turn_id = CASE WHEN u.status = 'won' THEN $1 ELSE c.turn_id END, "
                "decided_at = CASE WHEN u.status = 'pending' THEN c.decided_at ELSE $2 END "
                "FROM (SELECT unnest($3) AS id, unnest($4) AS status, unnest($5) AS urgency, "
                "unnest($6) AS waited, unnest($7) AS salience, unnest($8) AS parts) AS u "
                "WHERE c.id = u.id AND (u.status = 'won' OR c.status = 'pending')",
                [turn_id, stamp, *(list(col) for col in zip(*rows, strict=True))],
            )

    def apply(self, decision: AttentionDecision, turn_id: int | None) -> None:
        """Write a decision in one transaction of its own (see :meth:`apply_in`).

        Args:
            decision: what ``Attention.decide`` returned.
            turn_id: the turn the winner takes.
        """
        now = self.clock.now()
        self.store.write(lambda cur: self.apply_in(cur, decision, turn_id, now))


def _parts(scored: Scored) -> str:
    return json.dumps(scored.parts.model_dump())
