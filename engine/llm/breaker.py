"""Circuit breaker: stop calling a failing provider for a while, then try it once.

After ``failure_threshold`` consecutive failures the breaker opens and callers
skip the provider; after ``cooldown_s`` it lets exactly one trial call through
(half-open); success closes it, failure opens it again. The clock is
injectable so tests can move time by hand.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    """Where a circuit breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Stops calling a failing provider for a while, then tries it once."""

    def __init__(
        self,
        failure_threshold: int = 3,
        cooldown_s: float = 30.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """Create a closed breaker.

        Args:
            failure_threshold: consecutive failures that open the breaker.
            cooldown_s: how long it stays open before one trial call.
            monotonic: the clock (seconds); inject a fake in tests.
        """
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        self.failure_threshold = failure_threshold
        self.cooldown_s = cooldown_s
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> BreakerState:
        """The current state (OPEN turns HALF_OPEN once the cool-down has passed)."""
        with self._lock:
            return self._state()

    @property
    def consecutive_failures(self) -> int:
        """Failures since the last success."""
        with self._lock:
            return self._failures

    def allow(self) -> bool:
        """Ask whether a call may go through now.

        Returns:
            True when closed; when half-open, True once (the trial call) until
            its outcome is recorded; False when open.
        """
        with self._lock:
            state = self._state()
            if state is BreakerState.CLOSED:
                return True
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        """The provider answered: close the breaker and reset the failure count."""
        with self._lock:
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def release(self) -> None:
        """Give back a trial call that ended without an outcome (e.g. a bug, not a failure)."""
        with self._lock:
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """The provider failed: count it; open (or re-open) the breaker at the threshold."""
        with self._lock:
            self._failures += 1
            was_trial = self._trial_in_flight
            self._trial_in_flight = False
            if was_trial or self._failures >= self.failure_threshold:
                self._opened_at = self._monotonic()

    def seconds_until_trial(self) -> float:
        """Seconds before an open breaker lets a trial call through (0 when not open)."""
        with self._lock:
            if self._opened_at is None:
                return 0.0
            return max(0.0, self._opened_at + self.cooldown_s - self._monotonic())

    def _state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._monotonic() - self._opened_at >= self.cooldown_s:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN
