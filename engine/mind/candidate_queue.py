"""The durable attention queue: pending candidates are rows in ``candidates``.

A candidate is inserted in the same transaction as its input event (so a crash
loses none), read back by :meth:`CandidateQueue.pending`, and each turn's
:class:`~engine.mind.attention.AttentionDecision` is written back in one
transaction: the winner ``won`` (with its turn), the losers' decayed urgency and
``waited``, the dropped ones ``dropped``; every row keeps the salience and parts it
was last weighed with.

The queue keeps the pending rows in memory as well: read once, then changed as its
own writes commit (every candidate is written through it), so weighing them costs
no query.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime

import duckdb

from engine.clock import Clock, from_naive_utc, to_naive_utc
from engine.mind.attention import AttentionDecision, Candidate, Scored
from engine.store import Store

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
        self._pending: dict[int, Candidate] | None = None
        self._lock = threading.Lock()

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
    ) -> Candidate:
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
            The candidate as stored (pass it to :meth:`committed` once the transaction
            has committed).

        Raises:
            StoreError: the store is read-only.
        """
        assert self.store.writer is not None, "insert runs inside a store.write job"
        c = Candidate(
            id=self.store.writer.ids.take("candidates"),
            source=source,
            text=text,
            created_at=created_at,
            urgency=float(urgency),
            channel_id=channel_id,
            event_id=event_id,
            source_tag=source_tag,
        )
        cur.execute(
            "INSERT INTO candidates (id, event_id, source, source_tag, channel_id, text, "
            "created_at, urgency, waited, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, 'pending')",
            [
                c.id,
                c.event_id,
                c.source,
                c.source_tag,
                c.channel_id,
                c.text,
                to_naive_utc(c.created_at),
                c.urgency,
            ],
        )
        return c

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
        queued = self.store.write(
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
        self.committed(queued)
        return queued.id

    def pending(self) -> list[Candidate]:
        """The pending candidates, oldest first."""
        with self._lock:
            return sorted(self._loaded().values(), key=lambda c: (c.created_at, c.id))

    def depth(self) -> int:
        """How many candidates are pending."""
        with self._lock:
            return len(self._loaded())

    def count(self, source: str) -> int:
        """How many candidates from ``source`` are pending."""
        with self._lock:
            return sum(1 for c in self._loaded().values() if c.source == source)

    def committed(self, candidate: Candidate) -> None:
        """A candidate :meth:`insert` wrote has been committed: it is pending now."""
        with self._lock:
            if self._pending is not None:  # not read yet: the store has it
                self._pending[candidate.id] = candidate

    def decided(self, decision: AttentionDecision) -> None:
        """A decision :meth:`apply_in` wrote has been committed: the winner and the
        dropped leave the queue, the losers wait with their decayed urgency."""
        with self._lock:
            pending = self._pending
            if pending is None:
                return
            if decision.winner is not None:
                pending.pop(decision.winner.candidate.id, None)
            for dropped in decision.dropped:
                pending.pop(dropped.candidate.id, None)
            for queued in decision.queued:
                if queued.id in pending:
                    pending[queued.id] = queued

    def _loaded(self) -> dict[int, Candidate]:
        if self._pending is None:
            self._pending = {c.id: c for c in self._read()}
        return self._pending

    def _read(self) -> list[Candidate]:
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

        Call :meth:`decided` once the transaction has committed.
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
        if len(rows) == 1 and rows[0][1] == "won":  # the usual turn: one input, it wins
            cur.execute(
                "UPDATE candidates SET status = 'won', salience = ?, parts = ?, turn_id = ?, "
                "decided_at = ? WHERE id = ?",
                [rows[0][4], rows[0][5], turn_id, stamp, rows[0][0]],
            )
        elif rows:  # one statement: the winner won, the losers queued (decayed) or dropped
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
        self.decided(decision)


def _parts(scored: Scored) -> str:
    return json.dumps(scored.parts.model_dump())
