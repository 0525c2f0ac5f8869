"""Memory vectors (f16, per embedding model) and co-access pairs.

Vectors live in DuckDB so the USearch index can always be rebuilt from the source
of truth without re-embedding; keyed by (memory, model) so a background
re-embedding never mixes two models' vectors.
"""

from __future__ import annotations

import duckdb

STATEMENTS = [
    """
    CREATE TABLE memory_vectors (
        memory_id BIGINT NOT NULL,
        model VARCHAR NOT NULL,
        vector BLOB NOT NULL,
        created_at TIMESTAMP NOT NULL,
        PRIMARY KEY (memory_id, model)
    )
    """,
    """
    CREATE TABLE co_access (
        a BIGINT NOT NULL,
        b BIGINT NOT NULL,
        count INTEGER NOT NULL,
        last_at TIMESTAMP NOT NULL,
        PRIMARY KEY (a, b)
    )
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the vector and co-access tables.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
