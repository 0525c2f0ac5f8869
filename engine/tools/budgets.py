"""Rolling-hour budgets and per-tool rate limits, counted from what is stored.

Usage is read from ``tool_calls`` and ``llm_calls`` (the last hour), so a
restart does not reset any budget and no separate counter can drift.
"""

from __future__ import annotations

from datetime import timedelta

from engine.clock import Clock, to_naive_utc
from engine.policy.runtime import BudgetLimits
from engine.store import Store
from engine.store.sql import scalar
from engine.tools.registry import Scope, ToolSpec

# Statuses of calls that (may have) caused their effect.
SPENT_STATUSES = ("ok", "error", "timeout", "running", "interrupted")


class BudgetLedger:
    """Answers "may this run now?" for budgets and rate limits."""

    def __init__(self, store: Store, clock: Clock, limits: BudgetLimits) -> None:
        self._store = store
        self._clock = clock
        self.limits = limits

    def _since(self, seconds: float) -> object:
        return to_naive_utc(self._clock.now() - timedelta(seconds=seconds))

    def usage(self) -> dict[str, int]:
        """What the last hour spent: actions, messages and LLM tokens."""
        cur = self._store.reader()
        since = self._since(3600)
        statuses = list(SPENT_STATUSES)
        actions = scalar(
            cur,
            "SELECT count(*) FROM tool_calls WHERE started_at >= ? AND scope <> 'read' "
            "AND list_contains(?, status)",
            [since, statuses],
        )
        messages = scalar(
            cur,
            "SELECT count(*) FROM tool_calls WHERE started_at >= ? AND status = 'ok' "
            "AND counts_as_message",
            [since],
        )
        return {"actions": int(actions), "messages": int(messages), "tokens": self.tokens_used()}

    def tokens_used(self) -> int:
        """LLM tokens (in + out) spent in the last hour."""
        return int(
            scalar(
                self._store.reader(),
                "SELECT coalesce(sum(tokens_in + tokens_out), 0) FROM llm_calls WHERE ts >= ?",
                [self._since(3600)],
            )
        )

    def tool_usage(self, tool: str, seconds: float) -> int:
        """Calls of one tool that spent budget in the last ``seconds``."""
        return int(
            scalar(
                self._store.reader(),
                "SELECT count(*) FROM tool_calls WHERE tool = ? AND started_at >= ? "
                "AND list_contains(?, status)",
                [tool, self._since(seconds), list(SPENT_STATUSES)],
            )
        )

    def check(self, spec: ToolSpec) -> str | None:
        """Return why a call is over budget or rate-limited, or None.

        Args:
            spec: the tool about to run.

        Returns:
            A denial reason, or None.
        """
        if spec.rate_limit_per_minute is not None:
            used = self.tool_usage(spec.name, 60)
            if used >= spec.rate_limit_per_minute:
                return (
                    f"rate limited: {spec.name} ran {used} times in the last minute "
                    f"(limit {spec.rate_limit_per_minute})"
                )
        if spec.actions_per_hour is not None:
            used = self.tool_usage(spec.name, 3600)
            if used >= spec.actions_per_hour:
                return (
                    f"budget exhausted: {spec.name} actions_per_hour {used}/{spec.actions_per_hour}"
                )
        usage = self.usage()
        if spec.scope is not Scope.READ and usage["actions"] >= self.limits.actions_per_hour:
            return (
                f"budget exhausted: actions_per_hour {usage['actions']}/"
                f"{self.limits.actions_per_hour}"
            )
        if spec.counts_as_message and usage["messages"] >= self.limits.messages_per_hour:
            return (
                f"budget exhausted: messages_per_hour {usage['messages']}/"
                f"{self.limits.messages_per_hour}"
            )
        return None

    def tokens_exhausted(self) -> str | None:
        """Return why no more LLM calls may run this hour, or None."""
        used = self.tokens_used()  # before every model call: only the query it needs
        if used >= self.limits.tokens_per_hour:
            return f"budget exhausted: tokens_per_hour {used}/{self.limits.tokens_per_hour}"
        return None
