"""What an exit-gate decision does to memory, shared by the turn commit and the
scratch flush.

- ``persist`` / ``persist_flag``: the content becomes a memory
  (:func:`memory_for`); a flagged one is tagged ``flagged`` and ``contradiction``
  and names the memory it contradicts in ``source_meta``.
- ``reinforce``: the nearest existing memory gets ``alpha += gates.exit.reinforce_alpha``
  (capped so a mutable memory's mean stays <= ``weights.max_center``, as retrieval
  reinforcement is); immutable memories never change.
- ``buffer`` / ``drop``: nothing is written to memory.

SQL runs inside the caller's transaction; call :func:`after_reinforce` once it has
committed so the scoring cache sees the new weights.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb

from engine.memory.records import NewMemory
from engine.memory.scoring_load import refresh_scoring_rows
from engine.memory.service import MemoryService
from engine.mind.gates import ExitDecision

PERSISTING = frozenset({"persist", "persist_flag"})


def memory_for(
    content: str,
    kind: str,
    decision: ExitDecision,
    *,
    source: str | None = None,
    channel_id: str | None = None,
    source_tag: str = "operator",
    event_ids: Sequence[int] = (),
    meta: dict[str, Any] | None = None,
) -> NewMemory:
    """The memory a ``persist`` / ``persist_flag`` decision stores.

    Args:
        content: the text.
        kind: its memory kind (``message``, ``assistant_message``, ...).
        decision: the exit gate's decision (kept in ``source_meta["exit_gate"]``).
        source: where it came from.
        channel_id: its channel.
        source_tag: who it came from (tools check this).
        event_ids: the events it remembers.
        meta: more ``source_meta``.

    Returns:
        The memory to prepare and insert.
    """
    flagged = decision.action == "persist_flag"
    source_meta: dict[str, Any] = {**(meta or {}), "exit_gate": decision.as_dict()}
    if flagged and decision.target_id is not None:
        source_meta["contradicts"] = decision.target_id
    return NewMemory(
        kind=kind,
        content=content,
        source=source,
        channel_id=channel_id,
        source_tag=source_tag,
        event_ids=list(event_ids),
        source_meta=source_meta,
        tags=["flagged", "contradiction"] if flagged else [],
    )


def reinforce_in(
    cur: duckdb.DuckDBPyConnection,
    ids: Sequence[int],
    amount: float,
    max_center: float,
) -> None:
    """Strengthen memories inside the caller's transaction.

    Args:
        cur: the writer's cursor.
        ids: the memories a ``reinforce`` decision confirmed.
        amount: added to alpha (``gates.exit.reinforce_alpha``).
        max_center: the safety ceiling on a mutable memory's mean (``weights.max_center``).
    """
    if not ids or amount <= 0:
        return
    cur.execute(
        "UPDATE memories SET depth_weight_alpha = greatest(depth_weight_alpha, "
        "least(depth_weight_alpha + $1, $2 * depth_weight_beta / (1 - $2))) "
        "WHERE id = ANY($3) AND NOT immutable AND NOT deleted",
        [amount, max_center, list(ids)],
    )


def after_reinforce(memory: MemoryService, ids: Sequence[int]) -> None:
    """Bring reinforced memories' weights into the scoring cache (after the commit).

    Args:
        memory: the memory service.
        ids: what :func:`reinforce_in` touched.
    """
    if ids:
        refresh_scoring_rows(memory.scoring, memory.store.reader(), list(ids))
