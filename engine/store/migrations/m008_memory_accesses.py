"""Access times leave the ``memories`` row for an append-only table.

Until now every access (a search hit, a context inclusion) appended to the
``memories.access_timestamps`` LIST column. DuckDB rewrites a row whose LIST
column changes as a delete plus an insert, so each turn's statistics UPDATE
moved a dozen rows, touched the primary-key index and rewrote lists that only
ever grow. Worse, an UPDATE that rewrites a row that way silently drops a
concurrent transaction's in-place update of the same row.

``memory_accesses`` holds one row per access (``accessed_at`` in epoch
seconds, as the list did), indexed by memory. The statistics UPDATE now changes fixed-width
columns only, in place, and a turn appends its accesses with one INSERT.
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = [
    """
    CREATE TABLE memory_accesses (
        memory_id BIGINT NOT NULL,
        accessed_at DOUBLE NOT NULL
    )
    """,
    """
    INSERT INTO memory_accesses
    SELECT id, unnest(access_timestamps) FROM memories WHERE len(access_timestamps) > 0
    """,
    "ALTER TABLE memories DROP COLUMN access_timestamps",
    # a few memories' times (a refreshed cache row, `memory show`) without a full scan:
    # 1 ms instead of 15 at 2M accesses
    "CREATE INDEX memory_accesses_memory ON memory_accesses (memory_id)",
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Move every memory's access times into ``memory_accesses``.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
