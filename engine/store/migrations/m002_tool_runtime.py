"""Tool runtime bookkeeping: message budget flag, caller confidence, retry timing."""

from __future__ import annotations

import duckdb

STATEMENTS = [
    "ALTER TABLE tool_calls ADD COLUMN counts_as_message BOOLEAN NOT NULL DEFAULT false",
    "ALTER TABLE tool_calls ADD COLUMN confidence DOUBLE",
    "ALTER TABLE tool_calls ADD COLUMN cached_from BIGINT",
]


def apply(cur: duckdb.DuckDBPyConnection) -> None:
    """Add the columns the tool runtime records.

    Args:
        cur: a cursor inside the migration's transaction.
    """
    for statement in STATEMENTS:
        cur.execute(statement)
