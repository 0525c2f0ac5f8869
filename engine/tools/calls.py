"""Persisting tool calls: one row per call, written before it runs and updated after."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import duckdb

from engine.clock import to_naive_utc
from engine.store import Store


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)


def idempotency_key(turn_id: int | None, tool: str, args: dict[str, Any]) -> str:
    """The key that makes a repeated (turn, tool, args) call return the first result."""
    text = f"{turn_id}|{tool}|{canonical_json(args)}"
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class CallRecord:
    """What is written when a call starts."""

    turn_id: int | None
    tool: str
    scope: str
    args: dict[str, Any]
    idempotency_key: str
    source_tag: str
    confidence: float | None
    counts_as_message: bool
    started_at: datetime


class ToolCallLog:
    """Reads and writes ``tool_calls`` rows through the store's writer."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def start(self, record: CallRecord, status: str = "running", **final: Any) -> int:
        """Insert a call row (committed before the tool runs).

        Args:
            record: the call.
            status: ``running``, or a final status for calls that never run
                (``denied``, ``invalid``, ``cached``).
            **final: columns to set at once (``denied_reason``, ``result``, ``error``,
                ``cached_from``, ``finished_at``).

        Returns:
            The row id.
        """

        def job(cur: duckdb.DuckDBPyConnection) -> int:
            assert self._store.writer is not None
            call_id = self._store.writer.ids.take("tool_calls")
            cur.execute(
                "INSERT INTO tool_calls (id, turn_id, tool, scope, args, status, result, error, "
                "denied_reason, idempotency_key, source_tag, attempts, started_at, finished_at, "
                "duration_ms, counts_as_message, confidence, cached_from) VALUES "
                "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?)",
                [
                    call_id,
                    record.turn_id,
                    record.tool,
                    record.scope,
                    canonical_json(record.args),
                    status,
                    canonical_json(final["result"]) if "result" in final else None,
                    final.get("error"),
                    final.get("denied_reason"),
                    record.idempotency_key,
                    record.source_tag,
                    to_naive_utc(record.started_at),
                    to_naive_utc(final["finished_at"]) if "finished_at" in final else None,
                    final.get("duration_ms"),
                    record.counts_as_message,
                    record.confidence,
                    final.get("cached_from"),
                ],
            )
            return call_id

        return self._store.write(job)

    def finish(
        self,
        call_id: int,
        status: str,
        finished_at: datetime,
        duration_ms: float,
        attempts: int,
        result: Any = None,
        error: str | None = None,
    ) -> None:
        """Record a call's outcome."""
        self._store.write(
            lambda cur: cur.execute(
                "UPDATE tool_calls SET status = ?, result = ?, error = ?, finished_at = ?, "
                "duration_ms = ?, attempts = ? WHERE id = ?",
                [
                    status,
                    canonical_json(result) if result is not None else None,
                    error,
                    to_naive_utc(finished_at),
                    duration_ms,
                    attempts,
                    call_id,
                ],
            )
        )

    def previous(self, key: str) -> tuple[int, str, Any] | None:
        """The first call with this idempotency key that ran (id, status, result), or None."""
        rows = (
            self._store.reader()
            .execute(
                "SELECT id, status, result FROM tool_calls WHERE idempotency_key = ? "
                "AND status IN ('ok', 'running', 'interrupted', 'error', 'timeout') "
                "ORDER BY (status = 'ok') DESC, id LIMIT 1",
                [key],
            )
            .fetchall()
        )
        if not rows:
            return None
        call_id, status, result = rows[0]
        return int(call_id), str(status), json.loads(result) if result else None
