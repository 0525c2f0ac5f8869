"""``cephalon reconstitute``: rebuild everything derived from DuckDB, and say what was off.

DuckDB is the source of truth. Derived state is: the USearch index (from
``memory_vectors``), the in-memory keyword index and scoring cache (rebuilt on every
open), vectors for memories that should have one, and the janitor's aggregates.
Reconstitution checks each against the database, repairs it, and reports what was
missing or inconsistent, with counts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from engine.clock import Clock
from engine.memory.reembed import pending_reembed, reembed
from engine.memory.service import MemoryService
from engine.memory.vector_index_files import meta_path_for, verify_files
from engine.recovery import recover
from engine.store import Store
from engine.store.sql import scalar

Progress = Callable[[str, int, int], None]


@dataclass
class ReconstituteReport:
    """What was found and repaired."""

    interrupted_turns: list[int] = field(default_factory=list)
    interrupted_tool_calls: list[int] = field(default_factory=list)
    orphan_vectors: int = 0
    """Vector rows of deleted or missing memories (removed)."""
    missing_vectors: int = 0
    """Live memories embedded under another model, or never stored (re-embedded)."""
    index_before: str = ""
    """The vector index file's state before the rebuild."""
    index_vectors: int = 0
    memories: int = 0
    orphan_inclusions: int = 0
    """Context inclusions pointing at memories that no longer exist (reported only)."""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def reconstitute(
    store: Store,
    memory: MemoryService,
    clock: Clock,
    progress: Progress | None = None,
) -> ReconstituteReport:
    """Check and rebuild derived state.

    Args:
        store: the store, open read-write.
        memory: a memory service over it, NOT yet opened (this opens it).
        clock: time source.
        progress: ``(stage, done, total)``.

    Returns:
        The report.
    """
    report = ReconstituteReport()
    recovered = recover(store, clock)
    report.interrupted_turns = recovered.turns
    report.interrupted_tool_calls = recovered.tool_calls
    cur = store.reader()
    report.orphan_vectors = int(
        scalar(
            cur,
            "SELECT count(*) FROM memory_vectors v LEFT JOIN memories m ON m.id = v.memory_id "
            "WHERE m.id IS NULL OR m.deleted",
        )
    )
    if report.orphan_vectors:
        store.write(
            lambda c: c.execute(
                "DELETE FROM memory_vectors WHERE memory_id NOT IN "
                "(SELECT id FROM memories WHERE NOT deleted)"
            )
        )
    report.orphan_inclusions = int(
        scalar(
            cur,
            "SELECT count(*) FROM context_inclusions i LEFT JOIN memories m "
            "ON m.id = i.memory_id WHERE m.id IS NULL",
        )
    )
    check = verify_files(
        memory.index_path,
        expected_model=memory.embedder.name,
        expected_dim=memory.embedder.dim,
        dtype="f16",  # what MemoryService builds
        connectivity=memory.policy.index.connectivity,
    )
    stored = int(
        scalar(cur, "SELECT count(*) FROM memory_vectors WHERE model = ?", [memory.embedder.name])
    )
    report.index_before = f"{check.status.value}: {check.detail}"
    if check.meta is not None and check.meta.count != stored:
        report.index_before = f"stale-count: index {check.meta.count}, database {stored}"
    # the index is rebuilt from memory_vectors, whatever state its files were in
    memory.index_path.unlink(missing_ok=True)
    meta_path_for(memory.index_path).unlink(missing_ok=True)
    opened = memory.open(progress)
    report.memories = opened.memories
    report.missing_vectors = len(pending_reembed(memory))
    if report.missing_vectors:
        reembed(memory, progress=progress)
    memory.save_index()
    report.index_vectors = len(memory.vectors)
    return report
