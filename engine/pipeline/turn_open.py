"""Opening a turn: its id when attention picks the winner, its row while the model
generates.

The turn's id is known from the start, so every signal names the turn. The row that
says the turn is running, and the candidates' decisions, are one writer transaction
that is only started once the context is built: it then runs beside the model call,
off the turn's latency, instead of beside the context stage, which it slowed down
(both need the GIL; on two cores a 1 ms statement took 7-22 ms there).

The turn waits for that transaction before it runs any tool and before its own
commit. A crash after an external effect therefore always finds the turn to mark
interrupted; a crash before the opening committed left no effect behind and the
input, still pending, is taken again on restart. The turn's signals (the decision,
``turn.started``, the state report, streamed tokens...) are held until the opening
has committed and then go out in order: whoever sees a turn's signal can find the
turn in the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from datetime import datetime

import duckdb

from engine.clock import to_naive_utc
from engine.mind.attention import AttentionDecision
from engine.mind.candidate_queue import CandidateQueue
from engine.signals import Signal, SignalBus
from engine.store import Store
from engine.store.sql import scalar

__all__ = ["TurnIds", "TurnOpening"]


class TurnIds:
    """Hands out turn ids. The turn runner is the only writer of ``turns`` rows, so a
    counter seeded from the table's maximum is enough. After a failed opening the
    counter is re-read, so the next turn may get the failed one's id (it has no row:
    its signals never went out)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._next: int | None = None
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next turn's id.

        Returns:
            An id no ``turns`` row has.
        """
        with self._lock:
            if self._next is None:
                top = scalar(self.store.reader(), "SELECT coalesce(max(id), 0) FROM turns")
                self._next = int(top) + 1
            taken = self._next
            self._next += 1
            return taken

    def forget(self) -> None:
        """Re-read the table's maximum on the next :meth:`take` (after a failed opening)."""
        with self._lock:
            self._next = None


class TurnOpening:
    """The transaction that opens one turn and records attention's decision."""

    def __init__(
        self,
        store: Store,
        queue: CandidateQueue,
        bus: SignalBus,
        decision: AttentionDecision,
        turn_id: int | None,
        now: datetime,
        ids: TurnIds | None = None,
        run_later: Callable[[Callable[[], None]], object] | None = None,
    ) -> None:
        """
        Args:
            store: the store (its writer runs the transaction).
            queue: the candidate queue (told once the decision is committed).
            bus: where the turn's signals go once the opening has committed.
            decision: attention's decision; its winner is the turn's input.
            turn_id: the turn's id, or None when nothing won (only the decision is
                written).
            now: the turn's start and the decision's time.
            ids: where ``turn_id`` came from (told to re-read after a failure).
            run_later: runs the release of held signals off the writer's thread
                (observers must not run there); None: they go out at :meth:`wait`.
        """
        self.store = store
        self.queue = queue
        self.decision = decision
        self.turn_id = turn_id
        self.now = now
        self.ids = ids
        self.bus = bus
        self.run_later = run_later
        self._future: Future[None] | None = None
        self._applied = False
        self._held: list[Signal] | None = []
        """Signals waiting for the commit (None once they went out)."""
        self._lock = threading.Lock()

    def emit(self, signal: Signal) -> None:
        """Send one of the turn's signals: now if the opening has committed, else
        once it does (in order); dropped if it never does."""
        with self._lock:
            if self._held is not None:
                self._held.append(signal)
                return
        self.bus.emit(signal)

    def _release(self) -> None:
        with self._lock:  # emitted under the lock: a concurrent emit comes after these
            held, self._held = self._held, None
            for signal in held or []:
                self.bus.emit(signal)

    def _committed(self, future: Future[None]) -> None:
        if self.run_later is not None and not future.cancelled() and future.exception() is None:
            self.run_later(self._release)

    def start(self) -> None:
        """Queue the transaction on the writer (once; later calls do nothing)."""
        if self._future is None:
            assert self.store.writer is not None
            self._future = self.store.writer.submit(self._job)
            self._future.add_done_callback(self._committed)  # runs on the writer's thread

    def wait(self) -> None:
        """Start the transaction if needed and wait for its commit; the first time it
        succeeds, the queue forgets the winner and the dropped.

        Raises:
            Exception: what the transaction raised (the turn has no row: it cannot be
                committed or run tools).
        """
        self.start()
        assert self._future is not None
        try:
            self._future.result()
        except Exception:
            if self.ids is not None:
                self.ids.forget()
            raise
        self._release()  # in case the writer's callback has not run yet
        if not self._applied:
            self._applied = True
            self.queue.decided(self.decision)

    def _job(self, cur: duckdb.DuckDBPyConnection) -> None:
        winner = self.decision.winner
        if winner is not None and self.turn_id is not None:
            c = winner.candidate
            cur.execute(
                "INSERT INTO turns (id, started_at, status, input_event_id, channel_id, "
                "input) VALUES (?, ?, 'running', ?, ?, ?)",
                [self.turn_id, to_naive_utc(self.now), c.event_id, c.channel_id, c.text],
            )
        self.queue.apply_in(cur, self.decision, self.turn_id, self.now)
