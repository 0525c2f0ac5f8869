"""The cost ledger: every LLM call's provider, model, tokens, latency and cost.

Rows live in ``llm_calls`` (written in the turn's transaction or on their own);
totals are computed from them for the session, the last 24 hours and all time.
Prices come from the policy (``llm.prices``: USD per million input/output
tokens); unlisted models (the embedded one) cost 0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import duckdb

from engine.clock import Clock, to_naive_utc
from engine.llm.base import ChatResult
from engine.policy.runtime import LlmSection
from engine.store import Store


def call_cost(prices: dict[str, list[float]], model: str, tokens_in: int, tokens_out: int) -> float:
    """USD cost of one call at the policy's prices (0 for unlisted models)."""
    price = prices.get(model)
    if not price:
        return 0.0
    per_in, per_out = [*price, 0.0, 0.0][:2]
    return (tokens_in * per_in + tokens_out * per_out) / 1_000_000


@dataclass(frozen=True)
class CostTotals:
    """Calls, tokens and USD over one window."""

    calls: int
    tokens_in: int
    tokens_out: int
    cost_usd: float

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "calls": self.calls,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "cost_usd": round(self.cost_usd, 6),
        }


class CostLedger:
    """Writes ``llm_calls`` rows and sums them."""

    def __init__(self, store: Store, clock: Clock, policy: LlmSection) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self.session_started = clock.now()

    def insert(
        self,
        cur: duckdb.DuckDBPyConnection,
        turn_id: int | None,
        result: ChatResult,
        request: dict[str, Any] | None = None,
        status: str = "ok",
        error: str | None = None,
    ) -> int:
        """Record one call inside the caller's transaction.

        Args:
            cur: the writer's cursor.
            turn_id: the turn it belongs to.
            result: the provider's result (its ``raw`` is kept for replay).
            request: the request as sent (JSON-ready), when not already in ``raw``.
            status: ``ok`` or why it failed.
            error: the failure text.

        Returns:
            The row id.
        """
        assert self._store.writer is not None
        call_id = self._store.writer.ids.take("llm_calls")
        cost = call_cost(
            self._policy.prices, result.model, result.usage.tokens_in, result.usage.tokens_out
        )
        cur.execute(
            "INSERT INTO llm_calls (id, turn_id, ts, provider, model, status, tokens_in, "
            "tokens_out, latency_ms, ttft_ms, cost_usd, request, response, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                call_id,
                turn_id,
                to_naive_utc(self._clock.now()),
                result.provider,
                result.model,
                status,
                result.usage.tokens_in,
                result.usage.tokens_out,
                result.timings.total_ms,
                result.timings.ttft_ms,
                cost,
                json.dumps(request) if request is not None else None,
                result.model_dump_json(),
                error,
            ],
        )
        return call_id

    def record(self, turn_id: int | None, result: ChatResult) -> int:
        """Record one call in its own transaction."""
        return self._store.write(lambda cur: self.insert(cur, turn_id, result))

    def totals(self, since: datetime | None = None) -> CostTotals:
        """Sums over calls at or after ``since`` (None: all time)."""
        where, params = ("WHERE ts >= ?", [to_naive_utc(since)]) if since else ("", [])
        row = (
            self._store.reader()
            .execute(
                "SELECT count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), "
                f"coalesce(sum(cost_usd), 0) FROM llm_calls {where}",
                params,
            )
            .fetchall()[0]
        )
        return CostTotals(int(row[0]), int(row[1]), int(row[2]), float(row[3]))

    def summary(self) -> dict[str, dict[str, Any]]:
        """Totals for this session, the last 24 hours and all time."""
        now = self._clock.now()
        return {
            "session": self.totals(self.session_started).as_dict(),
            "24h": self.totals(now - timedelta(hours=24)).as_dict(),
            "lifetime": self.totals().as_dict(),
        }
