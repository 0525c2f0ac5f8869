"""Reading recorded turns and job runs (for ``turns list``, the replay viewer, the TUI)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import duckdb

from engine.clock import from_naive_utc
from engine.errors import CephalonError


def _iso(value: datetime | None) -> str | None:
    return from_naive_utc(value).isoformat() if value is not None else None


def list_turns(cur: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Turns, newest first.

    Args:
        cur: a read cursor.
        limit: at most this many.

    Returns:
        ``[{"id", "started_at", "status", "input", "output"}]``.
    """
    rows = cur.execute(
        "SELECT id, started_at, status, input, output FROM turns ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        {"id": r[0], "started_at": _iso(r[1]), "status": r[2], "input": r[3], "output": r[4]}
        for r in rows
    ]


def get_turn(cur: duckdb.DuckDBPyConnection, turn_id: int) -> dict[str, Any]:
    """One turn: its row and its full record.

    Args:
        cur: a read cursor.
        turn_id: the turn.

    Returns:
        The record dict with ``id``, ``status``, ``started_at``, ``finished_at``,
        ``input``, ``output`` and ``error`` on top.

    Raises:
        CephalonError: no such turn.
    """
    rows = cur.execute(
        "SELECT id, started_at, finished_at, status, input, output, record, error, channel_id "
        "FROM turns WHERE id = ?",
        [turn_id],
    ).fetchall()
    if not rows:
        raise CephalonError(f"no turn {turn_id}; `cephalon turns list` shows the recorded ones")
    r = rows[0]
    record: dict[str, Any] = json.loads(r[6]) if r[6] else {}
    record.update(
        id=r[0],
        started_at=_iso(r[1]),
        finished_at=_iso(r[2]),
        status=r[3],
        input=r[4],
        output=r[5],
        error=r[7],
        channel_id=r[8],
    )
    return record


def list_job_runs(cur: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """Job runs, newest first.

    Args:
        cur: a read cursor.
        limit: at most this many.

    Returns:
        ``[{"id", "job", "started_at", "finished_at", "status", "error", "detail"}]``.
    """
    rows = cur.execute(
        "SELECT id, job, started_at, finished_at, status, error, detail FROM job_runs "
        "ORDER BY id DESC LIMIT ?",
        [limit],
    ).fetchall()
    return [
        {
            "id": r[0],
            "job": r[1],
            "started_at": _iso(r[2]),
            "finished_at": _iso(r[3]),
            "status": r[4],
            "error": r[5],
            "detail": json.loads(r[6]) if r[6] else {},
        }
        for r in rows
    ]
