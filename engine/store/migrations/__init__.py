"""Numbered schema migrations, applied in order and recorded in ``schema_migrations``.

Each migration is a module ``mNNN_what`` with ``apply(cursor)``. Migrations are
append-only: never edit one that has shipped; add the next number instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import duckdb

from engine.store.migrations import (
    m001_initial,
    m002_tool_runtime,
    m003_memory_vectors,
    m004_mind,
    m005_janitor,
    m006_compaction,
    m007_jobs,
    m008_memory_accesses,
    m009_co_access_log,
)


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
    Migration(4, "m004_mind", m004_mind.apply),
    Migration(5, "m005_janitor", m005_janitor.apply),
    Migration(6, "m006_compaction", m006_compaction.apply),
    Migration(7, "m007_jobs", m007_jobs.apply),
    Migration(8, "m008_memory_accesses", m008_memory_accesses.apply),
    Migration(9, "m009_co_access_log", m009_co_access_log.apply),
)

LATEST_VERSION = MIGRATIONS[-1].version
