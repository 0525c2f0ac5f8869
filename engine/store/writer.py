"""The single writer: one thread, one cursor, one explicit transaction per job.

Every write to the database goes through :class:`Writer`. A job is a function of
a cursor; the writer runs it between ``BEGIN`` and ``COMMIT`` (``ROLLBACK`` on any
exception, which is then raised in the caller). Jobs run in submission order, so
ids the writer allocates are monotonic.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import duckdb

from engine.store.sql import scalar

T = TypeVar("T")

Job = Callable[[duckdb.DuckDBPyConnection], Any]


class IdAllocator:
    """Hands out ids for tables the writer owns; re-reads the maximum after a rollback."""

    def __init__(self, cur: duckdb.DuckDBPyConnection) -> None:
        self._cur = cur
        self._next: dict[str, int] = {}

    def take(self, table: str, count: int = 1) -> int:
        """Reserve ``count`` consecutive ids in ``table``.

        Args:
            table: a table with a BIGINT ``id`` column.
            count: how many ids.

        Returns:
            The first id of the reserved range.
        """
        if table not in self._next:
            self._next[table] = (
                int(scalar(self._cur, f"SELECT coalesce(max(id), 0) FROM {table}")) + 1
            )
        first = self._next[table]
        self._next[table] = first + count
        return first

    def forget(self) -> None:
        """Drop cached counters (after a rollback the reserved ids were not used)."""
        self._next.clear()


class Writer:
    """A thread owning the write cursor of one DuckDB connection."""

    def __init__(self, con: duckdb.DuckDBPyConnection, name: str = "cephalon-writer") -> None:
        self._cur = con.cursor()
        self.ids = IdAllocator(self._cur)
        self._jobs: queue.Queue[tuple[Job, Future[Any]] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self._arrival = threading.Condition()
        """Notified when a job is queued or a held job's wait is over."""
        self._thread.start()

    def submit(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> Future[T]:
        """Queue a job to run in its own transaction.

        Args:
            job: called with the writer's cursor inside ``BEGIN``/``COMMIT``.

        Returns:
            A future resolving to the job's return value once committed.

        Raises:
            RuntimeError: the writer is closed.
        """
        if self._closed:
            raise RuntimeError("the store is closed")
        future: Future[T] = Future()
        self._jobs.put((job, future))
        self._notify()
        return future

    def hold(self, ready: Future[Any]) -> bool:
        """Inside a job: keep its transaction open until ``ready`` is done, unless
        another job is queued first (it must not wait behind a transaction that may
        stay open for a whole model call).

        Args:
            ready: resolves when the holding job may go on.

        Returns:
            True when ``ready`` is done; False as soon as another job (or ``close``)
            is queued: the holding job should give up, so its transaction rolls back.
        """
        ready.add_done_callback(lambda _: self._notify())
        with self._arrival:
            while not ready.done():
                if not self._jobs.empty():
                    return False
                self._arrival.wait()
        return True

    def _notify(self) -> None:
        with self._arrival:
            self._arrival.notify_all()

    def run(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run a job in its own transaction and wait until it is committed.

        Args:
            job: called with the writer's cursor.

        Returns:
            The job's return value.

        Raises:
            Exception: whatever the job raised (the transaction was rolled back).
        """
        if threading.current_thread() is self._thread:
            return job(self._cur)  # nested: already inside the writer's transaction
        return self.submit(job).result()

    def close(self) -> None:
        """Finish queued jobs, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(None)
        self._notify()
        self._thread.join()
        self._cur.close()

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                self._cur.execute("BEGIN TRANSACTION")
                result = job(self._cur)
                self._cur.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(duckdb.Error):
                    self._cur.execute("ROLLBACK")
                self.ids.forget()
                future.set_exception(exc)
            else:
                future.set_result(result)
