"""What ``cephalon jobs list`` shows: each job's schedule, pause flag and last run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import duckdb

from engine.jobs.state import RunRow, last_runs, read_states

if TYPE_CHECKING:
    from engine.jobs.scheduler import Scheduler


@dataclass(frozen=True)
class JobStatus:
    """What ``cephalon jobs list`` shows for one job."""

    name: str
    interval_seconds: float
    paused: bool
    running: bool
    next_due_at: datetime
    last_run: RunRow | None

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (the last run without its detail)."""
        last = self.last_run.to_json() if self.last_run else None
        if last is not None:
            del last["detail"]
        return {
            "name": self.name,
            "interval_seconds": self.interval_seconds,
            "paused": self.paused,
            "running": self.running,
            "next_due_at": self.next_due_at.isoformat(),
            "last_run": last,
        }


def job_statuses(
    scheduler: Scheduler,
    cur: duckdb.DuckDBPyConnection,
    due: dict[str, datetime],
    alive: set[str],
    now: datetime,
) -> list[JobStatus]:
    """Every job's status.

    Args:
        scheduler: gives the jobs, their intervals and the jitter.
        cur: a read cursor.
        due: due times the scheduler holds in memory (they win over the stored ones).
        alive: names of jobs with a run in flight in this process.
        now: the due time of a job that never ran.

    Returns:
        One status per job, in registration order.
    """
    states, last = read_states(cur), last_runs(cur)
    out: list[JobStatus] = []
    for name in scheduler.names:
        job = scheduler.job(name)
        state, run = states.get(name), last.get(name)
        next_due = due.get(name) or (state.next_due_at if state else None)
        if next_due is None:
            next_due = scheduler.next_after(job, run.started_at) if run else now
        out.append(
            JobStatus(
                name=name,
                interval_seconds=scheduler.interval(job),
                paused=bool(state and state.paused),
                running=name in alive or (run is not None and run.status == "running"),
                next_due_at=next_due,
                last_run=run,
            )
        )
    return out
