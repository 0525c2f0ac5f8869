"""Schema for spam families, fingerprints and aggregates.

- ``event_fingerprints``: one row per message event the aggregator has processed
  (humans too): normalized text, exact hash, simhash64, number signature, and for
  bot messages in a spam family the family, the earlier message it duplicates and
  how it matched (``exact`` or ``near``; NULL for the first message of a burst).
- ``spam_families``: one row per family of bot messages that repeat (exact or near
  duplicates): where, who, the founding fingerprint, counts and time span.
- ``aggregates``: one aggregate memory per family per UTC day, with the counts,
  sample event ids and example snippets its content is written from.
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = [
    """
    CREATE TABLE event_fingerprints (
        event_id BIGINT PRIMARY KEY,
        ts TIMESTAMP NOT NULL,
        channel_id VARCHAR,
        author_id VARCHAR,
        author_is_bot BOOLEAN NOT NULL,
        normalized VARCHAR NOT NULL,
        exact_hash VARCHAR NOT NULL,
        simhash64 UBIGINT NOT NULL,
        numbers VARCHAR NOT NULL,
        family_id BIGINT,
        duplicate_of BIGINT,
        match_kind VARCHAR,
        processed_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE spam_families (
        id BIGINT PRIMARY KEY,
        channel_id VARCHAR,
        channel_name VARCHAR,
        author_id VARCHAR,
        author_name VARCHAR,
        topic VARCHAR NOT NULL,
        exact_hash VARCHAR NOT NULL,
        simhash64 UBIGINT NOT NULL,
        numbers VARCHAR NOT NULL,
        normalized_example VARCHAR NOT NULL,
        example VARCHAR NOT NULL,
        dup_count BIGINT NOT NULL,
        near_count BIGINT NOT NULL DEFAULT 0,
        first_ts TIMESTAMP NOT NULL,
        last_ts TIMESTAMP NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE TABLE aggregates (
        family_id BIGINT NOT NULL,
        day DATE NOT NULL,
        memory_id BIGINT NOT NULL,
        dup_count BIGINT NOT NULL,
        first_ts TIMESTAMP NOT NULL,
        last_ts TIMESTAMP NOT NULL,
        sample_event_ids BIGINT[] NOT NULL,
        examples VARCHAR[] NOT NULL,
        created_at TIMESTAMP NOT NULL,
        updated_at TIMESTAMP NOT NULL,
        PRIMARY KEY (family_id, day)
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the tables for spam families, fingerprints and aggregates.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
