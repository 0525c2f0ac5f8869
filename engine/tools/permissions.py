"""Who may run what: scopes, operator unlocks with an expiry, and the bar for self-initiated acts.

Unlocks are rows in ``safety_audit`` (kind ``unlock``), so they survive a restart
and leave an audit trail. ``read`` tools (``tools.unlocked_scopes``) always run.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import duckdb

from engine.clock import Clock, from_naive_utc, to_naive_utc
from engine.policy.runtime import ToolsSection
from engine.store import Store
from engine.tools.registry import Scope, SourceTag, ToolSpec


def record_audit(
    cur: duckdb.DuckDBPyConnection,
    first_id: int,
    ts: datetime,
    kind: str,
    subject: str,
    decision: str,
    reason: str,
    detail: dict[str, object],
) -> None:
    """Insert one ``safety_audit`` row inside the caller's transaction."""
    cur.execute(
        "INSERT INTO safety_audit (id, ts, kind, subject, decision, reason, detail) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [first_id, to_naive_utc(ts), kind, subject, decision, reason, json.dumps(detail)],
    )


class PermissionGate:
    """Decides whether a tool call is permitted."""

    def __init__(self, store: Store, clock: Clock, policy: ToolsSection) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy

    def unlock(
        self, scopes: list[Scope], minutes: float | None = None, by: str = "operator"
    ) -> datetime:
        """Allow tools of ``scopes`` until an expiry.

        Args:
            scopes: the scopes to unlock (``write``, ``external``, ``admin``).
            minutes: how long; None = ``tools.unlock_default_minutes``.
            by: who granted it (recorded).

        Returns:
            When the unlock expires.
        """
        expires = self._clock.now() + timedelta(
            minutes=minutes or self._policy.unlock_default_minutes
        )
        self._record(
            scopes, "granted", f"unlocked by {by}", {"expires_at": expires.isoformat(), "by": by}
        )
        return expires

    def lock(self, by: str = "operator") -> None:
        """End every unlock now."""
        scopes = [s for s in Scope if s.value not in self._policy.unlocked_scopes]
        self._record(scopes, "revoked", f"locked by {by}", {"by": by})

    def _record(
        self, scopes: list[Scope], decision: str, reason: str, detail: dict[str, object]
    ) -> None:
        now = self._clock.now()

        def job(cur: duckdb.DuckDBPyConnection) -> None:
            assert self._store.writer is not None
            first = self._store.writer.ids.take("safety_audit", len(scopes))
            for offset, scope in enumerate(scopes):
                record_audit(
                    cur, first + offset, now, "unlock", scope.value, decision, reason, detail
                )

        self._store.write(job)

    def active_unlocks(self) -> dict[str, datetime]:
        """Scopes unlocked right now, with their expiry."""
        rows = (
            self._store.reader()
            .execute(
                "SELECT subject, decision, detail->>'expires_at' FROM safety_audit "
                "WHERE kind = 'unlock' QUALIFY row_number() OVER (PARTITION BY subject "
                "ORDER BY id DESC) = 1"
            )
            .fetchall()
        )
        now = self._clock.now()
        active: dict[str, datetime] = {}
        for subject, decision, expires_text in rows:
            if decision != "granted" or not expires_text:
                continue
            expires = datetime.fromisoformat(expires_text)
            expires = from_naive_utc(expires) if expires.tzinfo is None else expires
            if expires > now:
                active[subject] = expires
        return active

    def check(self, spec: ToolSpec, source: SourceTag, confidence: float | None) -> str | None:
        """Return why a call is denied, or None when it may run.

        Args:
            spec: the tool.
            source: who ultimately asked.
            confidence: how sure the caller is (self-initiated effects need enough).

        Returns:
            A denial reason, or None.
        """
        if spec.scope.value in self._policy.unlocked_scopes:
            return None
        if spec.scope.value not in self.active_unlocks():
            return (
                f"permission denied: {spec.name} needs scope '{spec.scope.value}', which is "
                "locked (safe_read_only); an operator must unlock it"
            )
        if source.self_initiated_or_untrusted:
            bar = self._policy.self_initiated_min_confidence
            if confidence is None or confidence < bar:
                return (
                    f"permission denied: {spec.name} asked by {source.value} input needs "
                    f"confidence >= {bar} (got {confidence})"
                )
        return None
