"""One job run, recorded: claim a ``job_runs`` row, check the fingerprint, run, close.

A run's row goes ``running`` -> ``ok`` / ``failed`` (with the error) /
``skipped`` (with the reason). Claiming happens in one transaction, so two runs
of a job can never both start:

* a ``running`` row younger than ``jobs.double_run_factor x interval`` -> this run
  is recorded as ``skipped`` and the job is not called;
* an older one is taken for a crashed run: closed as ``failed`` with
  :data:`STALE_ERROR`, and this run goes ahead (unless the scheduler knows a run
  of the job is still going in this process: then it is skipped too).

Then, for runs started by a tick, a job whose ``inputs_fingerprint`` equals its
last ``ok`` run's is ``skipped`` without being called (no model call).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

import duckdb
import structlog

from engine.jobs.base import Job, JobContext, SkipRun
from engine.jobs.state import finish_run, insert_run, read_state, running_runs, update_state
from engine.signals import JobRun

log = structlog.get_logger("cephalon.jobs")

STALE_ERROR = "stale (crashed?)"
UNCHANGED_REASON = "inputs unchanged since the last ok run"


@dataclass(frozen=True)
class RunOutcome:
    """How one run ended."""

    run_id: int
    job: str
    status: str
    """``ok``, ``failed`` or ``skipped`` (``running`` only in the start signal)."""
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class _Claim:
    run_id: int
    skipped: str | None = None
    last_fingerprint: str | None = None
    stale_closed: list[int] = field(default_factory=list)


def _claim(
    ctx: JobContext,
    cur: duckdb.DuckDBPyConnection,
    name: str,
    now: datetime,
    interval: float,
    next_due: datetime,
    in_flight: bool,
) -> _Claim:
    writer = ctx.store.writer
    assert writer is not None
    state = read_state(cur, name)
    update_state(cur, name, now, next_due_at=next_due)
    limit = ctx.policy.jobs.double_run_factor * interval
    stale: list[int] = []
    for run in running_runs(cur, name):
        age = (now - run.started_at).total_seconds()
        if age < limit or in_flight:
            run_id = writer.ids.take("job_runs")
            reason = f"run {run.id} is still running (started {age:.0f}s ago)"
            insert_run(cur, run_id, name, now, "skipped", reason, {"trigger": ctx.trigger})
            return _Claim(run_id, skipped=reason)
        finish_run(cur, run.id, now, "failed", STALE_ERROR, run.detail)
        stale.append(run.id)
    run_id = writer.ids.take("job_runs")
    insert_run(cur, run_id, name, now, "running", None, {"trigger": ctx.trigger})
    return _Claim(run_id, last_fingerprint=state.last_fingerprint, stale_closed=stale)


def _emit(ctx: JobContext, outcome: RunOutcome) -> None:
    ctx.bus.emit(
        JobRun(
            ts=ctx.clock.now(),
            job=outcome.job,
            run_id=outcome.run_id,
            status=outcome.status,
            error=outcome.error,
            detail=outcome.detail,
        )
    )


def run_job(
    ctx: JobContext,
    job: Job,
    *,
    trigger: str,
    interval: float,
    next_due: datetime,
    in_flight: bool = False,
) -> RunOutcome:
    """Run one job once and record it (never raises for the job's own errors).

    Args:
        ctx: the scheduler's context (``trigger`` is set from the argument).
        job: the job.
        trigger: ``"tick"`` (fingerprint checked) or ``"manual"`` (always runs).
        interval: the job's interval in seconds (for the double-run check).
        next_due: when the job is due next (stored in ``job_state``).
        in_flight: a run of this job is still going in this process: its ``running``
            row is never taken for a crashed one, however old.

    Returns:
        How the run ended.

    Raises:
        StoreError: the database cannot be written.
    """
    ctx = replace(ctx, trigger=trigger)
    store = ctx.store
    now = ctx.clock.now()
    claim = store.write(lambda cur: _claim(ctx, cur, job.name, now, interval, next_due, in_flight))
    if claim.skipped is not None:
        outcome = RunOutcome(claim.run_id, job.name, "skipped", claim.skipped)
        _emit(ctx, outcome)
        return outcome
    _emit(ctx, RunOutcome(claim.run_id, job.name, "running", detail={"trigger": trigger}))
    ctx = replace(ctx, run_id=claim.run_id)
    fingerprint: str | None = None
    status, error, detail = "ok", None, {}
    try:
        fingerprint = job.inputs_fingerprint(ctx)
        unchanged = fingerprint is not None and fingerprint == claim.last_fingerprint
        if trigger == "tick" and unchanged:
            status, error = "skipped", UNCHANGED_REASON
        if status == "ok":
            detail = dict(job.run(ctx))
    except SkipRun as exc:
        status, error = "skipped", str(exc) or "skipped by the job"
    except Exception as exc:  # a job that throws is recorded, never fatal
        log.exception("job.failed", job=job.name, run_id=claim.run_id)
        status, error = "failed", f"{type(exc).__name__}: {exc}"
    detail = {"trigger": trigger, **detail}
    if claim.stale_closed:
        detail["stale_runs_closed"] = claim.stale_closed
    finished = ctx.clock.now()

    def finish(cur: duckdb.DuckDBPyConnection) -> None:
        finish_run(cur, claim.run_id, finished, status, error, detail)
        if status == "ok":
            update_state(cur, job.name, finished, last_fingerprint=fingerprint)

    store.write(finish)
    outcome = RunOutcome(claim.run_id, job.name, status, error, detail)
    _emit(ctx, outcome)
    log.info("job.finished", job=job.name, run_id=claim.run_id, status=status, error=error)
    return outcome
