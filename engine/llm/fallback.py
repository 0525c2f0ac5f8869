"""The fallback chain: the actor first, then the fallbacks, each behind a breaker.

Each provider has a :class:`~engine.llm.breaker.CircuitBreaker`; the chain
skips providers whose breaker is open and records why each try failed.

Retries are a small explicit loop rather than ``stamina``: the chain must
(a) honour a 429's Retry-After only up to a cap and otherwise fall through to
the next provider at once, (b) stop retrying a provider as soon as its breaker
opens, (c) record every try (provider, error kind, wait) for the turn record,
(d) take an injectable clock and wait function so tests are deterministic
without a process-global testing switch, and (e) be interruptible by the
caller's cancel event. stamina's retry contexts own the sleeping and the
attempt accounting, which makes (a)-(e) awkward; the loop is ~40 lines.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence

from pydantic import BaseModel, ConfigDict

from engine.llm.base import (
    ChatRequest,
    ChatResult,
    DeltaCallback,
    Provider,
    ProviderAttempt,
    TextDelta,
)
from engine.llm.breaker import BreakerState, CircuitBreaker
from engine.llm.errors import AllProvidersFailed, ProviderError, RateLimited

__all__ = ["BreakerState", "CircuitBreaker", "FallbackChain", "RetryPolicy", "wait_or_cancel"]

WaitFunction = Callable[[float, threading.Event | None], None]
"""Waits ``seconds`` (returning early when the event is set)."""


def wait_or_cancel(seconds: float, cancel: threading.Event | None) -> None:
    """The default wait: sleep, but wake up when ``cancel`` is set.

    Args:
        seconds: how long to wait.
        cancel: an event that ends the wait early, or None.
    """
    if cancel is None:
        time.sleep(seconds)
    else:
        cancel.wait(seconds)


class RetryPolicy(BaseModel):
    """How hard the chain tries one provider before moving to the next."""

    model_config = ConfigDict(frozen=True)

    attempts_per_provider: int = 2
    """Tries per provider (the first one included) for retryable errors (5xx, 429, bad JSON)."""
    backoff_initial_s: float = 0.5
    backoff_multiplier: float = 2.0
    backoff_max_s: float = 4.0
    max_retry_after_s: float = 10.0
    """A 429 asking to wait longer than this falls through to the next provider at once."""
    failure_threshold: int = 3
    """Consecutive failures that open a provider's breaker."""
    cooldown_s: float = 30.0
    """How long an open breaker waits before one trial call."""

    def backoff_s(self, retry_index: int) -> float:
        """The wait before retry number ``retry_index`` (0-based).

        Args:
            retry_index: 0 for the first retry.

        Returns:
            Seconds, growing exponentially up to ``backoff_max_s``.
        """
        delay = self.backoff_initial_s * self.backoff_multiplier**retry_index
        return float(min(self.backoff_max_s, delay))


class FallbackChain:
    """A provider that tries several providers in order (itself a Provider)."""

    def __init__(
        self,
        providers: Sequence[Provider],
        *,
        policy: RetryPolicy | None = None,
        breakers: Mapping[str, CircuitBreaker] | None = None,
        wait: WaitFunction = wait_or_cancel,
        monotonic: Callable[[], float] = time.monotonic,
        name: str = "fallback",
    ) -> None:
        """Create a chain.

        Args:
            providers: the actor first, then the fallbacks; names must be unique.
            policy: retry, backoff and breaker settings.
            breakers: existing breakers by provider name (e.g. shared with the UI);
                missing ones are created from the policy.
            wait: how to wait between tries (inject a recorder in tests).
            monotonic: the clock for breakers and timings.
            name: this chain's name.

        Raises:
            ValueError: no providers, or two with the same name.
        """
        names = [provider.name for provider in providers]
        if not names:
            raise ValueError("a fallback chain needs at least one provider")
        if len(set(names)) != len(names):
            raise ValueError(f"provider names must be unique: {names}")
        self._providers = list(providers)
        self._policy = policy or RetryPolicy()
        self._wait = wait
        self._monotonic = monotonic
        self._name = name
        self.breakers: dict[str, CircuitBreaker] = dict(breakers or {})
        for provider_name in names:
            self.breakers.setdefault(
                provider_name,
                CircuitBreaker(self._policy.failure_threshold, self._policy.cooldown_s, monotonic),
            )

    @property
    def name(self) -> str:
        """The chain's name."""
        return self._name

    @property
    def model(self) -> str:
        """The actor's model."""
        return self._providers[0].model

    @property
    def providers(self) -> list[Provider]:
        """The providers, in order."""
        return list(self._providers)

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Try each provider in order until one answers.

        Args:
            request: what to ask.
            on_delta: receives text; ``TextDelta.attempt`` grows with each try, so a
                consumer can drop text streamed by a try that then failed.
            cancel: stops generation and any wait between tries.

        Returns:
            The first successful result, with ``attempts`` listing every try.

        Raises:
            AllProvidersFailed: every provider failed or was skipped (``attempts`` says why).
        """
        log = _AttemptLog(on_delta)
        attempts = log.attempts

        for provider in self._providers:
            breaker = self.breakers[provider.name]
            if not breaker.allow():
                reason = f"circuit open, next trial in {breaker.seconds_until_trial():.0f}s"
                attempts.append(
                    ProviderAttempt(
                        provider=provider.name, outcome="skipped",
                        error_kind="CircuitOpen", error=reason,
                    )
                )
                continue
            result = self._try_provider(provider, breaker, request, cancel, log)
            if result is not None:
                return result.model_copy(update={"attempts": attempts})
            if cancel is not None and cancel.is_set():
                break
        summary = "; ".join(
            f"{attempt.provider}: {attempt.error_kind}" for attempt in attempts
        )
        raise AllProvidersFailed(f"no provider could answer ({summary})", attempts)

    def _try_provider(
        self,
        provider: Provider,
        breaker: CircuitBreaker,
        request: ChatRequest,
        cancel: threading.Event | None,
        log: _AttemptLog,
    ) -> ChatResult | None:
        """Try one provider, retrying retryable failures; None means "fall through"."""
        waited = 0.0
        for try_index in range(max(1, self._policy.attempts_per_provider)):
            started = self._monotonic()
            try:
                result = provider.chat(request, log.forward, cancel)
            except ProviderError as exc:
                delay = self._after_failure(provider, breaker, exc, started, waited, log, try_index)
                if delay is None or (cancel is not None and cancel.is_set()):
                    return None
                self._wait(delay, cancel)
                waited = delay
                continue
            except BaseException:
                breaker.release()  # not the provider's fault: free a half-open trial
                raise
            breaker.record_success()
            elapsed_ms = (self._monotonic() - started) * 1000.0
            log.add(
                ProviderAttempt(
                    provider=provider.name, outcome="ok", waited_s=waited, elapsed_ms=elapsed_ms
                )
            )
            return result
        return None

    def _after_failure(
        self,
        provider: Provider,
        breaker: CircuitBreaker,
        exc: ProviderError,
        started: float,
        waited: float,
        log: _AttemptLog,
        try_index: int,
    ) -> float | None:
        """Record a failed try; return the wait before retrying, or None to fall through."""
        if exc.counts_against_breaker:
            breaker.record_failure()
        else:
            breaker.record_success()  # it answered: the provider itself is healthy
        log.add(
            ProviderAttempt(
                provider=provider.name, outcome="failed", error_kind=exc.kind, error=str(exc),
                elapsed_ms=(self._monotonic() - started) * 1000.0, waited_s=waited,
            )
        )
        last_try = try_index + 1 >= self._policy.attempts_per_provider
        if last_try or breaker.state is not BreakerState.CLOSED:
            return None
        return self._retry_delay(exc, try_index)

    def _retry_delay(self, exc: ProviderError, try_index: int) -> float | None:
        """Seconds to wait before retrying the same provider, or None to fall through."""
        if isinstance(exc, RateLimited):
            if exc.retry_after_s is None:
                return self._policy.backoff_s(try_index)
            if exc.retry_after_s <= self._policy.max_retry_after_s:
                return exc.retry_after_s
            return None
        if exc.retryable:
            return self._policy.backoff_s(try_index)
        return None

    def close(self) -> None:
        """Close every provider."""
        for provider in self._providers:
            provider.close()


class _AttemptLog:
    """The tries of one chain call, and the delta forwarder that tags them."""

    def __init__(self, on_delta: DeltaCallback | None) -> None:
        self._on_delta = on_delta
        self.attempts: list[ProviderAttempt] = []
        self.number = 0

    def add(self, attempt: ProviderAttempt) -> None:
        self.attempts.append(attempt)
        if attempt.outcome == "failed":
            self.number += 1

    def forward(self, delta: TextDelta) -> None:
        if self._on_delta is not None:
            self._on_delta(TextDelta(delta.text, delta.provider, self.number))
