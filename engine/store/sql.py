"""Small query helpers that always read results to the end.

DuckDB refuses new work on a cursor whose previous result was not fully read
("connection has an unfinished result"), so nothing here uses ``fetchone``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb


def scalar(cur: duckdb.DuckDBPyConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run a query and return the first column of its first row (None when empty).

    Args:
        cur: a cursor.
        sql: the query.
        params: its parameters.

    Returns:
        The value, or None.
    """
    rows = cur.execute(sql, list(params)).fetchall()
    return rows[0][0] if rows else None
