"""What the fake Discord's REST side remembers: requests, pending 429s, deletes."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RestRequest:
    """One REST request as received."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None
    at: float
    """``time.monotonic()`` when it arrived."""
    status: int = 0
    """The status answered."""


@dataclass
class RateLimitRule:
    """Answer the next ``remaining`` matching requests with 429."""

    remaining: int
    retry_after: float
    method: str | None
    path_contains: str | None
    is_global: bool


class RestLog:
    """Thread-safe record of REST traffic and the 429s still to hand out."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: list[RestRequest] = []
        self._rules: list[RateLimitRule] = []
        self._deleted: list[tuple[str, str]] = []

    def record(self, request: RestRequest) -> None:
        """Keep a request."""
        with self._lock:
            self._requests.append(request)

    def requests(self, method: str | None, path_contains: str) -> list[RestRequest]:
        """Requests so far, in order, filtered by method and path."""
        with self._lock:
            return [
                r
                for r in self._requests
                if (method is None or r.method == method) and path_contains in r.path
            ]

    def add_rule(self, rule: RateLimitRule) -> None:
        """Queue 429s."""
        with self._lock:
            self._rules.append(rule)

    def take_rate_limit(self, method: str, path: str) -> RateLimitRule | None:
        """The pending 429 rule matching this request, if any (one use is spent)."""
        with self._lock:
            for rule in self._rules:
                if rule.remaining <= 0 or rule.method not in (None, method):
                    continue
                if rule.path_contains is not None and rule.path_contains not in path:
                    continue
                rule.remaining -= 1
                return rule
        return None

    def note_deleted(self, channel_id: str, message_id: str) -> None:
        """Record a REST delete."""
        with self._lock:
            self._deleted.append((channel_id, message_id))

    def deleted(self) -> list[tuple[str, str]]:
        """(channel id, message id) of REST deletes, in order."""
        with self._lock:
            return list(self._deleted)
