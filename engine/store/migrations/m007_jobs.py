"""Schema for heartbeat job bookkeeping.

``job_runs`` (m001) records every run. This adds what the scheduler and the
jobs keep between runs:

* ``job_state``: one row per job: paused flag, when it is next due (jittered),
  the inputs fingerprint of its last ``ok`` run, and a small JSON object the job
  itself owns (the janitor keeps its last report / GC times and the counts of
  the current report window there).
* ``suppress_rule_proposals``: suppress rules the janitor suggests for spam
  families. They are proposals only (``status = 'proposed'``); an operator
  approves or rejects them. ``rule_key`` makes a rule proposed at most once.
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = [
    """
    CREATE TABLE job_state (
        job VARCHAR PRIMARY KEY,
        paused BOOLEAN NOT NULL DEFAULT false,
        paused_at TIMESTAMP,
        next_due_at TIMESTAMP,
        last_fingerprint VARCHAR,
        state JSON,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE suppress_rule_proposals (
        id BIGINT PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        job_run_id BIGINT,
        channel_id VARCHAR,
        family_id VARCHAR,
        rule_key VARCHAR NOT NULL,
        rule JSON NOT NULL,
        status VARCHAR NOT NULL,
        decided_at TIMESTAMP
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the tables for heartbeat job bookkeeping.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
