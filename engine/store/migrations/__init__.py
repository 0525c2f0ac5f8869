"""Numbered schema migrations, applied in order and recorded in ``schema_migrations``.

Each migration is a module ``mNNN_what`` with ``apply(cursor)``. Migrations are
append-only: never edit one that has shipped; add the next number instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from engine.store.migrations import m001_initial, m002_tool_runtime, m003_memory_vectors


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    name: str
    apply: Callable[[duckdb.DuckDBPyConnection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "m001_initial", m001_initial.apply),
    Migration(2, "m002_tool_runtime", m002_tool_runtime.apply),
    Migration(3, "m003_memory_vectors", m003_memory_vectors.apply),
)

LATEST_VERSION = MIGRATIONS[-1].version
