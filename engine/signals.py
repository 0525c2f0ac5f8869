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
from typing import Annotated, Any, Literal

import structlog
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

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


class SalienceParts(BaseModel):
    """The four weighted parts of a candidate's salience (each in [0, 1])."""

    model_config = ConfigDict(frozen=True)

    novelty: float
    relevance: float
    charge: float
    urgency: float


class CandidateView(BaseModel):
    """One pending input as attention weighed it."""

    model_config = ConfigDict(frozen=True)

    id: int
    source: str
    """``operator``, ``channel``, ``gut``, ``job`` or ``dmn``."""
    text: str
    salience: float
    parts: SalienceParts
    waited_turns: int = 0
    winner: bool = False


class AttentionCandidates(Signal):
    """Every pending candidate with its salience; the winner takes the turn."""

    kind: Literal["attention.candidates"] = "attention.candidates"
    candidates: list[CandidateView]
    winner_id: int | None
    reason: str
    """Why the winner won, in words (also part of the state report)."""


class CognitiveState(Signal):
    """The cognitive state report the model sees this turn (verbatim)."""

    kind: Literal["state.report"] = "state.report"
    report: str


class GutDelta(Signal):
    """Drift between the subconscious and the attention centroid this turn."""

    kind: Literal["gut.delta"] = "gut.delta"
    intensity: float
    charge: float
    toward: list[dict[str, Any]]
    """Nearest memories to the delta: ``{"id", "content", "similarity"}``."""


class TurnStarted(Signal):
    """A candidate won attention and its turn began."""

    kind: Literal["turn.started"] = "turn.started"
    input: str
    source: str
    channel_id: str | None = None
    candidate_id: int | None = None
    """The queued input that won this turn (``submit`` returned it)."""


class EngineState(Signal):
    """The loop's state changed (``starting``, ``running``, ``paused``, ``stopping``,
    ``stopped``) or a progress step of start-up (model load) happened."""

    kind: Literal["engine.state"] = "engine.state"
    state: str
    detail: str = ""
    progress: float | None = None
    """0..1 while a start-up stage (e.g. the model load) is in progress."""


class JobRun(Signal):
    """A scheduled job started or finished."""

    kind: Literal["job.run"] = "job.run"
    job: str
    run_id: int
    status: str
    """``running``, ``ok``, ``failed`` or ``skipped``."""
    error: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)


class EngineError(Signal):
    """A stage failed; the loop recorded it and went on."""

    kind: Literal["engine.error"] = "engine.error"
    stage: str
    error: str


AnySignal = Annotated[
    ToolCallStarted
    | ToolCallFinished
    | ToolCallDenied
    | LlmDelta
    | ContextRetrieved
    | TurnCommitted
    | AttentionCandidates
    | CognitiveState
    | GutDelta
    | TurnStarted
    | EngineState
    | JobRun
    | EngineError,
    Field(discriminator="kind"),
]
"""Every signal kind, as one discriminated union (for decoding off the wire)."""

_ADAPTER: TypeAdapter[AnySignal] = TypeAdapter(AnySignal)


def signal_to_json(signal: Signal) -> dict[str, Any]:
    """Encode a signal for the wire (JSON-safe, with ``v`` = ``SIGNAL_VERSION``).

    Args:
        signal: any signal.

    Returns:
        A JSON-ready dict.
    """
    return {"v": SIGNAL_VERSION, **signal.model_dump(mode="json")}


def signal_from_json(data: dict[str, Any]) -> Signal:
    """Decode a signal from its wire form.

    Args:
        data: what :func:`signal_to_json` produced.

    Returns:
        The typed signal.

    Raises:
        ValueError: wrong version or not a known signal.
    """
    version = data.get("v", SIGNAL_VERSION)
    if version != SIGNAL_VERSION:
        raise ValueError(f"signal version {version} is not {SIGNAL_VERSION}")
    body = {k: v for k, v in data.items() if k != "v"}
    signal: Signal = _ADAPTER.validate_python(body)
    return signal
