"""Blocking backend calls off the UI thread, on a fixed set of long-lived threads.

Two lanes, one thread each: ``command`` (submit, pause, resume, unlock, status:
short, kept in order) and ``query`` (search, turns, replay, job runs, policy:
possibly slow, so they never hold up a message the operator sent). Fixed threads
matter: the store keeps one read cursor per thread that asks, so a thread per
call would leak cursors. Jobs queued before the backend exists (the engine is
still starting) wait for it, then run in order. Results come back to the UI
thread as :class:`BackendAnswer` messages.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from textual.message import Message

from engine.backend import ConsoleBackend

Lane = Literal["command", "query"]
Done = Callable[[Any, BaseException | None], None]


class BackendAnswer(Message):
    """A backend call finished (delivered to the app; run ``done`` on the UI thread)."""

    def __init__(self, done: Done, result: Any, error: BaseException | None) -> None:
        super().__init__()
        self.done = done
        self.result = result
        self.error = error


@dataclass
class _Job:
    fn: Callable[[ConsoleBackend], Any]
    done: Done | None


_STOP = object()


class BackendRunner:
    """Runs ``fn(backend)`` jobs on two lanes and posts their answers."""

    def __init__(self, post: Callable[[Message], object]) -> None:
        """Create the lanes (threads start at once and wait for a backend).

        Args:
            post: thread-safe delivery of a message to the UI (``app.post_message``).
        """
        self._post = post
        self._backend: ConsoleBackend | None = None
        self._failure: BaseException | None = None
        self._ready = threading.Event()
        self._queues: dict[str, queue.SimpleQueue[object]] = {}
        self._threads: list[threading.Thread] = []
        for lane in ("command", "query"):
            q: queue.SimpleQueue[object] = queue.SimpleQueue()
            thread = threading.Thread(
                target=self._run, args=(q,), name=f"cephalon-tui-{lane}", daemon=True
            )
            self._queues[lane] = q
            self._threads.append(thread)
            thread.start()

    @property
    def backend(self) -> ConsoleBackend | None:
        """The backend, once there is one."""
        return self._backend

    def set_backend(self, backend: ConsoleBackend) -> None:
        """Hand over the backend; jobs that were waiting run now (thread-safe)."""
        self._backend = backend
        self._ready.set()

    def fail(self, error: BaseException) -> None:
        """The backend will never come: waiting and future jobs answer with ``error``."""
        self._failure = error
        self._ready.set()

    def call(
        self,
        fn: Callable[[ConsoleBackend], Any],
        done: Done | None = None,
        lane: Lane = "command",
    ) -> None:
        """Queue a job.

        Args:
            fn: the blocking call, given the backend.
            done: ``done(result, error)`` run on the UI thread afterwards (None: ignore).
            lane: ``command`` (ordered, quick) or ``query`` (slow reads).
        """
        self._queues[lane].put(_Job(fn, done))

    def stop(self, timeout: float = 2.0) -> None:
        """Let both lanes finish their current job and end."""
        if self._backend is None and self._failure is None:
            self._failure = RuntimeError("the console closed before the engine was ready")
        self._ready.set()
        for q in self._queues.values():
            q.put(_STOP)
        for thread in self._threads:
            thread.join(timeout)

    def _run(self, jobs: queue.SimpleQueue[object]) -> None:
        while True:
            job = jobs.get()
            if job is _STOP:
                return
            assert isinstance(job, _Job)
            self._ready.wait()
            result: Any = None
            error: BaseException | None = self._failure
            if error is None and self._backend is not None:
                try:
                    result = job.fn(self._backend)
                except Exception as exc:  # reported to the UI, never raised on this thread
                    error = exc
            if job.done is not None:
                self._post(BackendAnswer(job.done, result, error))
