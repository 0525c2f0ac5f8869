"""Crash recovery: what a killed engine left half-done is closed out, never redone.

At start (before any turn runs): a turn still ``running`` is marked ``interrupted``;
a tool call still ``running`` gets a synthetic ``interrupted`` result (its effect
may or may not have happened, so the runtime's idempotency check will never
repeat it); the candidate that won the interrupted turn is not queued again
(nothing that already happened is re-sent). Pending candidates stay pending.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb
import structlog

from engine.clock import Clock, to_naive_utc
from engine.store import Store

log = structlog.get_logger("cephalon.recovery")

INTERRUPTED_RESULT = {"interrupted": True, "note": "the engine stopped before this call finished"}


@dataclass
class RecoveryReport:
    """What recovery closed out."""

    turns: list[int] = field(default_factory=list)
    tool_calls: list[int] = field(default_factory=list)
    job_runs: list[int] = field(default_factory=list)

    @property
    def anything(self) -> bool:
        """True when something was left in flight."""
        return bool(self.turns or self.tool_calls or self.job_runs)


def recover(store: Store, clock: Clock) -> RecoveryReport:
    """Close out everything a previous process left in flight, in one transaction.

    Args:
        store: the open store (read-write).
        clock: time source.

    Returns:
        The ids of what was marked interrupted.
    """
    now = to_naive_utc(clock.now())

    def job(cur: duckdb.DuckDBPyConnection) -> RecoveryReport:
        report = RecoveryReport(
            turns=[
                r[0]
                for r in cur.execute(
                    "SELECT id FROM turns WHERE status = 'running' ORDER BY id"
                ).fetchall()
            ],
            tool_calls=[
                r[0]
                for r in cur.execute(
                    "SELECT id FROM tool_calls WHERE status = 'running' ORDER BY id"
                ).fetchall()
            ],
            job_runs=[
                r[0]
                for r in cur.execute(
                    "SELECT id FROM job_runs WHERE status = 'running' ORDER BY id"
                ).fetchall()
            ],
        )
        if report.tool_calls:
            cur.execute(
                "UPDATE tool_calls SET status = 'interrupted', result = ?, finished_at = ?, "
                "error = 'interrupted: the engine stopped before the call finished' "
                "WHERE status = 'running'",
                [json.dumps(INTERRUPTED_RESULT), now],
            )
        for turn_id in report.turns:
            calls = [
                r[0]
                for r in cur.execute(
                    "SELECT id FROM tool_calls WHERE turn_id = ? ORDER BY id", [turn_id]
                ).fetchall()
            ]
            record = {"interrupted": True, "tool_calls": calls, "stop_reason": "interrupted"}
            cur.execute(
                "UPDATE turns SET status = 'interrupted', finished_at = ?, record = ?, "
                "error = 'interrupted: the engine stopped during this turn' WHERE id = ?",
                [now, json.dumps(record), turn_id],
            )
        if report.job_runs:
            cur.execute(
                "UPDATE job_runs SET status = 'failed', finished_at = ?, "
                "error = 'interrupted: the engine stopped during this run' "
                "WHERE status = 'running'",
                [now],
            )
        return report

    report = store.write(job)
    if report.anything:
        log.warning(
            "recovered",
            turns=report.turns,
            tool_calls=report.tool_calls,
            job_runs=report.job_runs,
        )
    return report
