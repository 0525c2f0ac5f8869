"""The first schema: events, memories, turns, tool and LLM calls, inclusions, jobs, audit."""

from __future__ import annotations

import duckdb

STATEMENTS = [
    """
    CREATE TABLE events (
        id BIGINT PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        type VARCHAR NOT NULL,
        source VARCHAR NOT NULL,
        channel_id VARCHAR,
        author_id VARCHAR,
        author_is_bot BOOLEAN NOT NULL DEFAULT false,
        payload JSON NOT NULL,
        content_hash VARCHAR
    )
    """,
    """
    CREATE TABLE memories (
        id BIGINT PRIMARY KEY,
        kind VARCHAR NOT NULL,
        content VARCHAR NOT NULL,
        normalized_content VARCHAR,
        source VARCHAR,
        channel_id VARCHAR,
        author_id VARCHAR,
        author_is_bot BOOLEAN NOT NULL DEFAULT false,
        source_meta JSON,
        event_ids BIGINT[] NOT NULL DEFAULT [],
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        event_ts TIMESTAMP,
        last_included_at TIMESTAMP,
        access_timestamps DOUBLE[] NOT NULL DEFAULT [],
        included_count_decay DOUBLE NOT NULL DEFAULT 0,
        depth_weight_alpha DOUBLE NOT NULL DEFAULT 1,
        depth_weight_beta DOUBLE NOT NULL DEFAULT 4,
        pinned BOOLEAN NOT NULL DEFAULT false,
        locked_by_admin BOOLEAN NOT NULL DEFAULT false,
        locked_by_system BOOLEAN NOT NULL DEFAULT false,
        deleted BOOLEAN NOT NULL DEFAULT false,
        deleted_at TIMESTAMP,
        immutable BOOLEAN NOT NULL DEFAULT false,
        source_tag VARCHAR NOT NULL DEFAULT 'operator',
        source_confidence DOUBLE NOT NULL DEFAULT 1.0,
        compressed BOOLEAN NOT NULL DEFAULT false,
        embed_model VARCHAR,
        fingerprints JSON,
        tags VARCHAR[] NOT NULL DEFAULT []
    )
    """,
    """
    CREATE TABLE turns (
        id BIGINT PRIMARY KEY,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        input_event_id BIGINT,
        channel_id VARCHAR,
        input VARCHAR,
        output VARCHAR,
        record JSON,
        error VARCHAR
    )
    """,
    """
    CREATE TABLE tool_calls (
        id BIGINT PRIMARY KEY,
        turn_id BIGINT,
        tool VARCHAR NOT NULL,
        scope VARCHAR NOT NULL,
        args JSON NOT NULL,
        status VARCHAR NOT NULL,
        result JSON,
        error VARCHAR,
        denied_reason VARCHAR,
        idempotency_key VARCHAR,
        source_tag VARCHAR,
        attempts INTEGER NOT NULL DEFAULT 1,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        duration_ms DOUBLE
    )
    """,
    """
    CREATE TABLE llm_calls (
        id BIGINT PRIMARY KEY,
        turn_id BIGINT,
        ts TIMESTAMP NOT NULL,
        provider VARCHAR NOT NULL,
        model VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        tokens_in INTEGER NOT NULL DEFAULT 0,
        tokens_out INTEGER NOT NULL DEFAULT 0,
        latency_ms DOUBLE,
        ttft_ms DOUBLE,
        cost_usd DOUBLE NOT NULL DEFAULT 0,
        request JSON,
        response JSON,
        error VARCHAR
    )
    """,
    """
    CREATE TABLE context_inclusions (
        turn_id BIGINT NOT NULL,
        memory_id BIGINT NOT NULL,
        section VARCHAR NOT NULL,
        rank INTEGER NOT NULL,
        score DOUBLE,
        explain JSON,
        ts TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE job_runs (
        id BIGINT PRIMARY KEY,
        job VARCHAR NOT NULL,
        started_at TIMESTAMP NOT NULL,
        finished_at TIMESTAMP,
        status VARCHAR NOT NULL,
        error VARCHAR,
        detail JSON
    )
    """,
    """
    CREATE TABLE safety_audit (
        id BIGINT PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        subject VARCHAR,
        decision VARCHAR NOT NULL,
        reason VARCHAR,
        detail JSON
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the initial tables.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
