"""Schema for compaction plans and tombstones.

A compaction plan is one group of old, rarely used memories (one channel, one
day) on its way to becoming a summary: ``planned`` -> ``summarized`` ->
``committed``, or ``aborted`` (with the reason in ``error``). A tombstone
remembers a memory that compaction removed: when, why, which summary replaced
it and the hash of what it said.
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = [
    """
    CREATE TABLE compaction_plans (
        id BIGINT PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        status VARCHAR NOT NULL,
        group_key VARCHAR NOT NULL,
        channel_id VARCHAR,
        day DATE,
        source_ids BIGINT[] NOT NULL,
        source_tokens INTEGER NOT NULL,
        time_start TIMESTAMP,
        time_end TIMESTAMP,
        summary JSON,
        summarized_by VARCHAR,
        llm_call_id BIGINT,
        summary_memory_id BIGINT,
        error VARCHAR
    )
    """,
    """
    CREATE TABLE tombstones (
        memory_id BIGINT PRIMARY KEY,
        deleted_at TIMESTAMP NOT NULL,
        reason VARCHAR NOT NULL,
        plan_id BIGINT,
        summary_memory_id BIGINT,
        kind VARCHAR NOT NULL,
        channel_id VARCHAR,
        content_hash VARCHAR NOT NULL
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the tables for compaction plans and tombstones.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
