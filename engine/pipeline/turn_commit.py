"""The turn commit: everything a turn produced, in ONE DuckDB transaction.

LLM calls, the output event, minted memories (identity, exit-gate survivors),
scratch-buffered texts, context inclusions with their scores and the access
statistics they update, the gut delta, weight reinforcements, and the turn record.
Vectors go into the ANN index after the commit; the scoring cache follows it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from engine.clock import to_naive_utc
from engine.costs import CostLedger
from engine.memory.search import SearchResult
from engine.memory.service import MemoryService, PreparedMemories
from engine.memory.stat_updates import MemoryStatUpdates
from engine.mind.gate_effects import reinforce_in
from engine.mind.gut import Gut, GutReading
from engine.mind.scratch import ScratchBuffer
from engine.models import EventType, NewEvent
from engine.pipeline.act import ActResult
from engine.pipeline.inclusions import Inclusion, record_inclusions
from engine.policy import Policy
from engine.store import Store
from engine.store.events import insert_events


@dataclass
class Buffered:
    """A text the gates sent to the scratch buffer."""

    content: str
    kind: str
    source: str


@dataclass
class TurnProducts:
    """What one turn hands to the commit."""

    turn_id: int
    status: str
    act: ActResult
    record: dict[str, Any]
    channel_id: str | None
    prepared: PreparedMemories | None = None
    inclusions: list[Inclusion] = field(default_factory=list)
    gut: GutReading | None = None
    buffered: list[Buffered] = field(default_factory=list)
    reinforce: list[int] = field(default_factory=list)
    retrieval: SearchResult | None = None
    """The context's related-memories search: its retrieval effects commit here."""


@dataclass
class TurnCommitter:
    """Writes a turn's products in one transaction."""

    store: Store
    ledger: CostLedger
    policy: Policy
    memory: MemoryService | None
    scratch: ScratchBuffer | None

    def commit(self, products: TurnProducts, now: datetime) -> list[int]:
        """Commit a turn.

        Args:
            products: what the turn produced.
            now: the commit time.

        Returns:
            The ids of the memories minted (in ``products.prepared`` order).
        """
        return self.store.write(lambda cur: self._write(cur, products, now))

    def _write(self, cur: duckdb.DuckDBPyConnection, p: TurnProducts, now: datetime) -> list[int]:
        assert self.store.writer is not None
        record = p.record
        record["llm_calls"] = [self.ledger.insert(cur, p.turn_id, r) for r in p.act.llm_results]
        if p.act.output is not None:
            reply = NewEvent(
                type=EventType.LLM_ASSISTANT_MESSAGE,
                source="engine",
                ts=now,
                channel_id=p.channel_id,
                payload={"content": p.act.output, "turn_id": p.turn_id},
            )
            record["output_event_id"] = insert_events(
                cur, self.store.writer.ids.take("events"), [reply]
            )[0]
        memory_ids: list[int] = []
        if self.memory is not None:
            if p.prepared is not None:
                memory_ids = self.memory.insert_prepared(cur, p.prepared)
            cap = self.policy.weights.max_center
            stats = MemoryStatUpdates(cap, self.policy.compaction.access.tau_days * 86400)
            if p.retrieval is not None:
                self.memory.retrieval_effects_in(cur, p.retrieval, now, stats)
            record_inclusions(cur, p.turn_id, p.inclusions, now, self.memory, stats)
            reinforce_in(cur, p.reinforce, self.policy.gates.exit.reinforce_alpha, cap, stats)
            stats.write(cur)
        record["memory_ids"] = memory_ids
        record["scratch_ids"] = (
            self.scratch.add_many(
                cur,
                [(b.content, b.kind, b.source) for b in p.buffered],
                channel_id=p.channel_id,
                turn_id=p.turn_id,
                now=now,
            )
            if self.scratch is not None
            else []
        )
        if p.gut is not None:
            Gut.insert(cur, p.turn_id, p.gut, now)
        cur.execute(
            "UPDATE turns SET status = ?, finished_at = ?, output = ?, record = ?, error = ? "
            "WHERE id = ?",
            [
                p.status,
                to_naive_utc(now),
                p.act.output,
                json.dumps(record, default=str),
                p.act.error,
                p.turn_id,
            ],
        )
        return memory_ids
