"""What the scheduler and jobs keep in the database: ``job_runs`` rows and ``job_state``.

Reads take a read cursor (``store.reader()``); writes take the writer's cursor
inside the caller's transaction (``store.write(lambda cur: ...)``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from engine.clock import from_naive_utc, to_naive_utc

RUN_STATUSES = ("running", "ok", "failed", "skipped")


@dataclass(frozen=True)
class JobState:
    """One job's bookkeeping row (defaults when the job has none yet)."""

    job: str
    paused: bool = False
    paused_at: datetime | None = None
    next_due_at: datetime | None = None
    last_fingerprint: str | None = None
    state: dict[str, Any] = field(default_factory=dict)
    """Private to the job (e.g. the janitor's last report time)."""


@dataclass(frozen=True)
class RunRow:
    """One ``job_runs`` row."""

    id: int
    job: str
    started_at: datetime
    finished_at: datetime | None
    status: str
    error: str | None
    detail: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        """A JSON-safe dict (ISO times)."""
        return {
            "id": self.id,
            "job": self.job,
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "status": self.status,
            "error": self.error,
            "detail": self.detail,
        }


def _aware(value: datetime | None) -> datetime | None:
    return from_naive_utc(value) if value is not None else None


def _state_row(row: tuple[Any, ...]) -> JobState:
    return JobState(
        job=row[0],
        paused=bool(row[1]),
        paused_at=_aware(row[2]),
        next_due_at=_aware(row[3]),
        last_fingerprint=row[4],
        state=json.loads(row[5]) if row[5] else {},
    )


_STATE_COLUMNS = "job, paused, paused_at, next_due_at, last_fingerprint, state"
_RUN_COLUMNS = "id, job, started_at, finished_at, status, error, detail"


def _run_row(row: tuple[Any, ...]) -> RunRow:
    return RunRow(
        id=row[0],
        job=row[1],
        started_at=from_naive_utc(row[2]),
        finished_at=_aware(row[3]),
        status=row[4],
        error=row[5],
        detail=json.loads(row[6]) if row[6] else {},
    )


def read_states(cur: duckdb.DuckDBPyConnection) -> dict[str, JobState]:
    """Every job's bookkeeping row, by job name."""
    rows = cur.execute(f"SELECT {_STATE_COLUMNS} FROM job_state").fetchall()
    return {row[0]: _state_row(row) for row in rows}


def read_state(cur: duckdb.DuckDBPyConnection, job: str) -> JobState:
    """One job's bookkeeping row (defaults when it has none).

    Args:
        cur: any cursor.
        job: the job name.

    Returns:
        The state.
    """
    rows = cur.execute(f"SELECT {_STATE_COLUMNS} FROM job_state WHERE job = ?", [job]).fetchall()
    return _state_row(rows[0]) if rows else JobState(job=job)


def update_state(cur: duckdb.DuckDBPyConnection, job: str, now: datetime, **values: Any) -> None:
    """Create or update a job's ``job_state`` row (inside the caller's transaction).

    Args:
        cur: the writer's cursor.
        job: the job name.
        now: stamps ``updated_at``.
        **values: columns to set: ``paused``, ``paused_at``, ``next_due_at``,
            ``last_fingerprint``, ``state`` (a dict, stored as JSON).

    Raises:
        ValueError: an unknown column.
    """
    allowed = {"paused", "paused_at", "next_due_at", "last_fingerprint", "state"}
    unknown = set(values) - allowed
    if unknown:
        raise ValueError(f"unknown job_state columns: {sorted(unknown)}")
    params: dict[str, Any] = {}
    for key, value in values.items():
        if key == "state":
            params[key] = json.dumps(value, ensure_ascii=False, default=str)
        elif isinstance(value, datetime):
            params[key] = to_naive_utc(value)
        else:
            params[key] = value
    stamp = to_naive_utc(now)
    cur.execute(
        "INSERT INTO job_state (job, updated_at) VALUES (?, ?) ON CONFLICT (job) DO NOTHING",
        [job, stamp],
    )
    sets = ", ".join(f"{key} = ?" for key in params)
    cur.execute(
        f"UPDATE job_state SET {sets}{', ' if sets else ''}updated_at = ? WHERE job = ?",
        [*params.values(), stamp, job],
    )


def running_runs(cur: duckdb.DuckDBPyConnection, job: str) -> list[RunRow]:
    """Runs of ``job`` still marked ``running``, oldest first."""
    rows = cur.execute(
        f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job = ? AND status = 'running' ORDER BY id",
        [job],
    ).fetchall()
    return [_run_row(row) for row in rows]


def last_runs(cur: duckdb.DuckDBPyConnection) -> dict[str, RunRow]:
    """The newest run of every job that ever ran, by job name."""
    rows = cur.execute(
        f"SELECT {_RUN_COLUMNS} FROM job_runs "
        "WHERE id IN (SELECT max(id) FROM job_runs GROUP BY job)"
    ).fetchall()
    return {row[1]: _run_row(row) for row in rows}


def runs_of(cur: duckdb.DuckDBPyConnection, job: str, limit: int = 20) -> list[RunRow]:
    """The newest runs of one job, newest first.

    Args:
        cur: a read cursor.
        job: the job name.
        limit: at most this many.

    Returns:
        The runs.
    """
    rows = cur.execute(
        f"SELECT {_RUN_COLUMNS} FROM job_runs WHERE job = ? ORDER BY id DESC LIMIT ?",
        [job, limit],
    ).fetchall()
    return [_run_row(row) for row in rows]


def insert_run(
    cur: duckdb.DuckDBPyConnection,
    run_id: int,
    job: str,
    now: datetime,
    status: str,
    error: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Insert a ``job_runs`` row (``finished_at`` set unless the status is ``running``)."""
    stamp = to_naive_utc(now)
    cur.execute(
        f"INSERT INTO job_runs ({_RUN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            run_id,
            job,
            stamp,
            None if status == "running" else stamp,
            status,
            error,
            json.dumps(detail or {}, ensure_ascii=False, default=str),
        ],
    )


def finish_run(
    cur: duckdb.DuckDBPyConnection,
    run_id: int,
    now: datetime,
    status: str,
    error: str | None,
    detail: dict[str, Any],
) -> None:
    """Close a ``running`` row with its final status, error and detail."""
    cur.execute(
        "UPDATE job_runs SET status = ?, finished_at = ?, error = ?, detail = ? WHERE id = ?",
        [
            status,
            to_naive_utc(now),
            error,
            json.dumps(detail, ensure_ascii=False, default=str),
            run_id,
        ],
    )
