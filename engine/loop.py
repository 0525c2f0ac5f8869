"""The always-on loop: tick, take the most salient pending input, run its turn, repeat.

One daemon thread per engine. It wakes on every tick (``engine.tick_seconds``) and
whenever an input is queued, runs due heartbeat jobs, then runs turns while the
queue has candidates and the loop is not paused. A failing step is recorded (an
``engine.error`` signal and a log line) and the loop goes on; it never wedges.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

import structlog

from engine.clock import Clock
from engine.signals import EngineError, EngineState, SignalBus

log = structlog.get_logger("cephalon.loop")


class LoopState(StrEnum):
    """Where the loop is."""

    STOPPED = "stopped"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPING = "stopping"


class MindLoop:
    """Drives an engine's turns and jobs on a background thread."""

    def __init__(
        self,
        *,
        step: Callable[[threading.Event], bool],
        has_work: Callable[[], bool],
        tick: Callable[[], None] | None,
        tick_seconds: float,
        bus: SignalBus,
        clock: Clock,
        busy: threading.RLock | None = None,
    ) -> None:
        """Create a loop (not started).

        Args:
            step: run one turn if any candidate is pending; True when a turn ran. It
                receives the cancel event that a hard stop sets.
            has_work: True when candidates are pending.
            tick: called once per tick for heartbeat jobs (None: no jobs).
            tick_seconds: seconds between ticks.
            bus: where state changes and errors are signalled.
            clock: time source for signal timestamps.
            busy: held while a step runs (shared with direct callers of the step).
        """
        self._busy = busy or threading.RLock()
        self._step = step
        self._has_work = has_work
        self._tick = tick
        self._tick_seconds = tick_seconds
        self._bus = bus
        self._clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._cancel = threading.Event()
        self._paused = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def state(self) -> LoopState:
        """The current state."""
        if self._thread is None or not self._thread.is_alive():
            return LoopState.STOPPED
        if self._stop.is_set():
            return LoopState.STOPPING
        return LoopState.PAUSED if self._paused.is_set() else LoopState.RUNNING

    def start(self) -> None:
        """Start the thread (no-op when running)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._cancel.clear()
        self._thread = threading.Thread(target=self._run, name="cephalon-mind", daemon=True)
        self._thread.start()
        self._signal()

    def wake(self) -> None:
        """Run the queue now instead of at the next tick."""
        self._wake.set()

    def pause(self) -> None:
        """Take no new turns (the turn in flight finishes)."""
        self._paused.set()
        self._signal()

    def resume(self) -> None:
        """Take turns again."""
        self._paused.clear()
        self._signal()
        self._wake.set()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no turn is running and nothing is pending (tests, drains).

        Args:
            timeout: seconds.

        Returns:
            True when idle in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._busy:  # no step runs while we look
                if not self._has_work() or self._paused.is_set():
                    return True
            time.sleep(0.02)
        return False

    def stop(self, drain_seconds: float) -> bool:
        """Stop: let the turn in flight finish for up to ``drain_seconds``, then cancel it.

        Args:
            drain_seconds: grace period for the running turn.

        Returns:
            True when the thread ended (it always does unless a stage is wedged in C code).
        """
        thread = self._thread
        if thread is None:
            return True
        self._stop.set()
        self._wake.set()
        self._signal()
        thread.join(drain_seconds)
        if thread.is_alive():
            log.warning("loop.cancel_in_flight", drain_seconds=drain_seconds)
            self._cancel.set()  # the act loop checks it between steps: the turn is checkpointed
            thread.join(drain_seconds)
        self._thread = None
        self._signal()
        return not thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                if self._tick is not None and not self._paused.is_set():
                    self._tick()
                while not self._stop.is_set() and not self._paused.is_set() and self._has_work():
                    with self._busy:
                        ran = self._step(self._cancel)
                    if not ran:
                        break
            except Exception as exc:  # the loop never dies of one bad step
                log.exception("loop.step_failed")
                self._bus.emit(
                    EngineError(
                        ts=self._clock.now(), stage="loop", error=f"{type(exc).__name__}: {exc}"
                    )
                )
            self._wake.wait(self._tick_seconds)
            self._wake.clear()

    def _signal(self) -> None:
        self._bus.emit(EngineState(ts=self._clock.now(), state=self.state.value))
