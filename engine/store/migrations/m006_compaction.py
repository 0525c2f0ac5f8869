"""Schema for compaction plans and tombstones.

(Reserved in session 2 while the feature is built; fill STATEMENTS before it ships.)
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = []


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the tables for compaction plans and tombstones.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
