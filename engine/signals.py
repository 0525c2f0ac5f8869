"""What the engine tells observers: a typed, versioned stream of signals.

Signals are the only outlet from the engine to a UI (the TUI, the daemon's
control socket). Each is a frozen pydantic model with a ``kind`` discriminator
and travels as JSON with ``SIGNAL_VERSION``. Observers subscribe to a
:class:`SignalBus`; a failing observer is logged and never breaks the engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict

SIGNAL_VERSION = 1

log = structlog.get_logger("cephalon.signals")


class Signal(BaseModel):
    """Base of every signal."""

    model_config = ConfigDict(frozen=True)

    kind: str
    ts: datetime
    turn_id: int | None = None


class ToolCallStarted(Signal):
    kind: Literal["tool.started"] = "tool.started"
    call_id: int
    tool: str
    scope: str
    args: dict[str, Any]


class ToolCallFinished(Signal):
    kind: Literal["tool.finished"] = "tool.finished"
    call_id: int
    tool: str
    scope: str
    status: str
    duration_ms: float
    attempts: int
    error: str | None = None
    replayed: bool = False
    """True when an idempotency key matched and the stored result was returned."""


class ToolCallDenied(Signal):
    kind: Literal["tool.denied"] = "tool.denied"
    call_id: int
    tool: str
    scope: str
    reason: str


Observer = Callable[[Signal], None]


class SignalBus:
    """Fan-out of signals to subscribers (thread-safe)."""

    def __init__(self) -> None:
        self._observers: list[Observer] = []
        self._lock = threading.Lock()

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Add an observer.

        Args:
            observer: called with every signal, on the emitting thread; must be quick.

        Returns:
            A function that unsubscribes it.
        """
        with self._lock:
            self._observers.append(observer)

        def unsubscribe() -> None:
            with self._lock:
                if observer in self._observers:
                    self._observers.remove(observer)

        return unsubscribe

    def emit(self, signal: Signal) -> None:
        """Deliver a signal to every observer; observer errors are logged and swallowed."""
        with self._lock:
            observers = list(self._observers)
        for observer in observers:
            try:
                observer(signal)
            except Exception:
                log.exception("signal observer failed", kind=signal.kind)


class LlmDelta(Signal):
    """Streamed reply text (UIs coalesce these)."""

    kind: Literal["llm.delta"] = "llm.delta"
    text: str
    provider: str


class ContextRetrieved(Signal):
    """The memories retrieved for this turn, with their per-signal explanations."""

    kind: Literal["context.retrieved"] = "context.retrieved"
    query: str
    memories: list[dict[str, Any]]


class TurnCommitted(Signal):
    """A turn's record, output and minted memories are durable."""

    kind: Literal["turn.committed"] = "turn.committed"
    status: str
    output: str | None
    stop_reason: str
    latency_ms: float
