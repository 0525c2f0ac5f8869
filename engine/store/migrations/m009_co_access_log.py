"""Co-access is appended to a log and folded into its counts later.

A turn's commit used to upsert every pair of its search hits into ``co_access``
(``INSERT ... ON CONFLICT DO UPDATE``: ~5 ms for ~45 pairs at 300k pairs, the
heaviest statement of a turn). It now appends them to ``co_access_log`` (~0.8 ms).
``co_access_counts`` is what readers use: the folded counts plus the log.
:func:`engine.memory.retrieval_effects.fold_co_access` moves the log into
``co_access`` (at start-up, off any turn's path).
"""

from __future__ import annotations

import duckdb

STATEMENTS: list[str] = [
    """
    CREATE TABLE co_access_log (
        a BIGINT NOT NULL,
        b BIGINT NOT NULL,
        seen_at TIMESTAMP NOT NULL
    )
    """,
    """
    CREATE VIEW co_access_counts AS
    SELECT a, b, sum(count)::INTEGER AS count, max(last_at) AS last_at FROM (
        SELECT a, b, count, last_at FROM co_access
        UNION ALL SELECT a, b, 1, seen_at FROM co_access_log
    ) GROUP BY a, b
    """,
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Create the co-access log and the view readers use.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
