"""The mind: a durable attention queue, gut deltas and the scratch buffer.

Pending inputs are rows in ``candidates`` so a restart loses none of them; the
scratch buffer holds what the exit gate deferred until its next flush.
"""

from __future__ import annotations

import duckdb

STATEMENTS = [
    """
    CREATE TABLE candidates (
        id BIGINT PRIMARY KEY,
        event_id BIGINT,
        source VARCHAR NOT NULL,
        source_tag VARCHAR NOT NULL,
        channel_id VARCHAR,
        text VARCHAR NOT NULL,
        created_at TIMESTAMP NOT NULL,
        urgency DOUBLE NOT NULL,
        waited INTEGER NOT NULL DEFAULT 0,
        status VARCHAR NOT NULL,
        turn_id BIGINT,
        decided_at TIMESTAMP,
        salience DOUBLE,
        parts JSON
    )
    """,
    """
    CREATE TABLE gut_deltas (
        turn_id BIGINT NOT NULL,
        ts TIMESTAMP NOT NULL,
        intensity DOUBLE NOT NULL,
        charge DOUBLE NOT NULL,
        toward JSON NOT NULL,
        model VARCHAR
    )
    """,
    """
    CREATE TABLE scratch_items (
        id BIGINT PRIMARY KEY,
        turn_id BIGINT,
        kind VARCHAR NOT NULL,
        content VARCHAR NOT NULL,
        source VARCHAR,
        channel_id VARCHAR,
        created_at TIMESTAMP NOT NULL,
        expires_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        decision JSON,
        memory_id BIGINT
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the attention queue, gut delta and scratch tables.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
