"""The one adapter between engine signals and the Textual app.

Signals arrive on engine threads (the mind loop, tool workers, a socket reader).
:class:`SignalBridge` is the observer handed to ``ConsoleBackend.subscribe``: it
only appends to a locked deque, never touches a widget and never blocks. The
app drains it on a timer (a few times a second, whatever the signal rate);
:meth:`SignalBridge.drain` hands back the signals in order with consecutive
token deltas of one turn joined into one, so a burst of 200 deltas costs one
update of the chat panel.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from engine.backend import ConsoleBackend
from engine.signals import LlmDelta, Signal

DEFAULT_MAX_PENDING = 50_000


class SignalBridge:
    """A thread-safe inbox of signals, drained and coalesced on the UI thread."""

    def __init__(self, max_pending: int = DEFAULT_MAX_PENDING) -> None:
        """Create an empty bridge.

        Args:
            max_pending: keep at most this many undrained signals; the oldest are
                dropped beyond it (counted in :attr:`dropped`).
        """
        self._pending: deque[Signal] = deque()
        self._lock = threading.Lock()
        self._max_pending = max_pending
        self._unsubscribe: Callable[[], None] | None = None
        self.received = 0
        """Signals received so far (any thread)."""
        self.dropped = 0
        """Signals dropped because the UI fell too far behind."""

    def put(self, signal: Signal) -> None:
        """Queue one signal (the observer; safe from any thread, never blocks).

        Args:
            signal: what the engine emitted.
        """
        with self._lock:
            self._pending.append(signal)
            self.received += 1
            if len(self._pending) > self._max_pending:
                self._pending.popleft()
                self.dropped += 1

    def attach(self, backend: ConsoleBackend) -> None:
        """Subscribe to a backend's signals (replacing an earlier subscription).

        Args:
            backend: the engine to observe.
        """
        self.detach()
        self._unsubscribe = backend.subscribe(self.put)

    def detach(self) -> None:
        """Stop receiving signals (no-op when not attached)."""
        if self._unsubscribe is not None:
            unsubscribe, self._unsubscribe = self._unsubscribe, None
            unsubscribe()

    @property
    def pending(self) -> int:
        """How many signals wait to be drained."""
        with self._lock:
            return len(self._pending)

    def drain(self) -> list[Signal]:
        """Take every queued signal, in arrival order, with token deltas coalesced.

        Returns:
            The signals; runs of :class:`LlmDelta` of the same turn become one delta
            whose text is their concatenation.
        """
        with self._lock:
            taken, self._pending = self._pending, deque()
        return coalesce(taken)


def coalesce(signals: deque[Signal] | list[Signal]) -> list[Signal]:
    """Join consecutive token deltas of the same turn; keep everything else as is.

    Args:
        signals: signals in arrival order.

    Returns:
        The same sequence with each run of same-turn deltas merged into one.
    """
    out: list[Signal] = []
    run: list[str] = []
    head: LlmDelta | None = None

    def flush() -> None:
        nonlocal head
        if head is not None:
            out.append(head.model_copy(update={"text": "".join(run)}) if len(run) > 1 else head)
            head = None
            run.clear()

    for signal in signals:
        if isinstance(signal, LlmDelta):
            if head is not None and head.turn_id == signal.turn_id:
                run.append(signal.text)
                continue
            flush()
            head = signal
            run.append(signal.text)
            continue
        flush()
        out.append(signal)
    flush()
    return out
