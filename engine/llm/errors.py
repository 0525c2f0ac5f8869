"""Typed provider errors.

Every failure a provider can have maps onto one of these, so the fallback
chain and the tool runtime can decide (retry, wait, fall through, give up)
without looking at HTTP details. Messages never contain an API key: clients
redact secrets before raising.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import CephalonError

if TYPE_CHECKING:
    from engine.llm.base import ProviderAttempt


class ProviderError(CephalonError):
    """Base of every LLM provider failure.

    Attributes:
        provider: the provider's name ("openai_compat", "ollama", "local", ...).
        retryable: retrying the same provider soon may succeed.
        counts_against_breaker: the failure says the provider is unhealthy
            (a 4xx caused by our request does not).
    """

    retryable: bool = False
    counts_against_breaker: bool = True

    def __init__(self, message: str, provider: str = "") -> None:
        super().__init__(message)
        self.provider = provider

    @property
    def kind(self) -> str:
        """A short stable name for logs and the turn record (the class name)."""
        return type(self).__name__


class ProviderUnavailable(ProviderError):
    """The provider cannot serve at all: connection refused, model missing, not loaded."""


class ProviderTimeout(ProviderError):
    """The provider did not answer (or stopped streaming) within the request's timeout."""


class RateLimited(ProviderError):
    """HTTP 429; ``retry_after_s`` is the server's Retry-After, when it sent one."""

    retryable = True

    def __init__(self, message: str, provider: str = "", retry_after_s: float | None = None):
        super().__init__(message, provider)
        self.retry_after_s = retry_after_s


class ProviderHTTPError(ProviderError):
    """A non-success HTTP status other than 429 (or a runtime error of the local model)."""

    def __init__(self, message: str, provider: str = "", status: int = 500) -> None:
        super().__init__(message, provider)
        self.status = status

    @property
    def retryable(self) -> bool:  # type: ignore[override]
        """5xx may be transient; 4xx will fail the same way again."""
        return self.status >= 500

    @property
    def counts_against_breaker(self) -> bool:  # type: ignore[override]
        """Only server-side errors say the provider is unhealthy."""
        return self.status >= 500


class MalformedResponse(ProviderError):
    """The provider answered with something that is not its protocol (bad JSON, wrong shape)."""

    retryable = True


class AllProvidersFailed(ProviderUnavailable):
    """Every provider of a fallback chain failed or was skipped.

    Attributes:
        attempts: what was tried, in order.
    """

    def __init__(self, message: str, attempts: list[ProviderAttempt]) -> None:
        super().__init__(message, provider="fallback")
        self.attempts = attempts
