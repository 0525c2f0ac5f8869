"""Time sources. Everything that reads the time takes a :class:`Clock`, so tests can freeze it."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """A source of timezone-aware UTC datetimes."""

    def now(self) -> datetime:
        """Return the current time.

        Returns:
            A timezone-aware datetime in UTC.
        """
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """Return the current UTC time."""
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to (tests, replay)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """Return the frozen time."""
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        """Move the clock forward.

        Args:
            seconds: how far to move; may be fractional.
        """
        with self._lock:
            self._now += timedelta(seconds=seconds)


def to_naive_utc(value: datetime) -> datetime:
    """Convert an aware datetime to the naive-UTC form stored in DuckDB TIMESTAMP columns."""
    if value.tzinfo is None:
        return value
    return value.astimezone(UTC).replace(tzinfo=None)


def from_naive_utc(value: datetime) -> datetime:
    """Attach UTC to a naive datetime read back from DuckDB."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    return value.replace(tzinfo=UTC)
