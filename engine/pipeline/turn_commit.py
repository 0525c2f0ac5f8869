"""The turn commit: everything a turn produced, in ONE DuckDB transaction.

LLM calls, the output event, minted memories (identity, exit-gate survivors),
scratch-buffered texts, context inclusions with their scores and the access
statistics they update, the gut delta, weight reinforcements, and the turn record.
Vectors go into the ANN index after the commit; the scoring cache follows it.

The transaction starts early and is written in three parts:

1. While the model generates (:meth:`TurnCommitter.begin`): the context's effects
   (inclusions, access statistics, co-access). The writer then holds the open
   transaction; if any other job is queued meanwhile (an input, a tool call's
   record, a job), the part is rolled back at once and written again later, so no
   write ever waits for a model call.
2. When the act is done: the LLM calls, the reply event and the gut delta, while the
   exit gate embeds the reply on the turn's thread.
3. When the gates are done: their products and the turn record; then COMMIT.

Nothing else runs on the writer in between, so the turn is still one transaction
from one writer. A gate slower than ``engine.commit_overlap_seconds`` has the open
part rolled back and the whole turn written after the gates.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb
import structlog

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
from engine.pipeline.context import AssembledContext
from engine.pipeline.inclusions import Inclusion, cache_inclusions, record_inclusions
from engine.policy import Policy
from engine.store import Store
from engine.store.events import insert_events

log = structlog.get_logger("cephalon.turn")


class _GateLate(Exception):
    """The gates outlasted ``engine.commit_overlap_seconds``: write the turn after them."""


class _Preempted(Exception):
    """Another writer job was queued while the early part waited for the act."""


class _Abandoned(Exception):
    """The turn will not commit through its early part (it failed before the commit)."""


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
    buffered: list[Buffered] = field(default_factory=list)
    reinforce: list[int] = field(default_factory=list)


@dataclass
class ActProducts:
    """What a turn has once its act and gut are done: the commit writes it while the
    gates still run."""

    turn_id: int
    act: ActResult
    channel_id: str | None
    inclusions: list[Inclusion] = field(default_factory=list)
    retrieval: SearchResult | None = None
    """The context's related-memories search: its retrieval effects commit here."""
    gut: GutReading | None = None
    context_at: datetime | None = None
    """When the context was sent (the accesses' time; None: the commit's)."""

    @classmethod
    def of(
        cls,
        turn_id: int,
        act: ActResult,
        channel_id: str | None,
        assembled: AssembledContext | None,
        gut: GutReading | None,
        context_at: datetime | None = None,
    ) -> ActProducts:
        """The products of a turn whose context is ``assembled`` (None: its stage failed)."""
        if assembled is None:
            return cls(turn_id, act, channel_id, gut=gut)
        return cls(
            turn_id, act, channel_id, assembled.inclusions, assembled.retrieval, gut, context_at
        )


_Finish = Callable[[duckdb.DuckDBPyConnection], tuple[TurnProducts, list[int]]]


@dataclass
class EarlyPart:
    """A turn's transaction, opened during the model call with the context's effects
    written (:meth:`TurnCommitter.begin`); it waits for the rest of the turn."""

    future: Future[tuple[TurnProducts, list[int]]]
    """The writer job: resolves once the turn is committed, or raises when the part
    was rolled back (preempted, abandoned, or a failed statement)."""
    rest: Future[_Finish]
    """Resolves to the rest of the turn, or to why it will not come; whoever sets it
    first (the turn delivering, the writer giving up) decides."""
    context_at: datetime
    """The time the part's context effects carry (the commit's cache update uses it)."""

    def deliver(self, finish: _Finish) -> bool:
        """Hand the writer the rest of the turn.

        Returns:
            False when the part is no longer waiting (preempted or failed already).
        """
        if self.future.done():
            return False
        try:
            self.rest.set_result(finish)
        except InvalidStateError:  # the writer gave up first
            return False
        return True

    def abandon(self) -> None:
        """Roll the part back (the turn failed before its commit; no-op after it)."""
        with contextlib.suppress(InvalidStateError):
            self.rest.set_exception(_Abandoned())


@dataclass
class TurnCommitter:
    """Writes a turn's products in one transaction."""

    store: Store
    ledger: CostLedger
    policy: Policy
    memory: MemoryService | None
    scratch: ScratchBuffer | None

    def begin(
        self,
        turn_id: int,
        assembled: AssembledContext,
        context_at: datetime,
    ) -> EarlyPart:
        """Open a turn's transaction while its model call runs and write the context's
        effects in it (part 1; :meth:`commit` writes the rest through the part).

        Args:
            turn_id: the turn (its opening is queued on the writer before this).
            assembled: the turn's context.
            context_at: when it was sent (the accesses' time; pass the same as the
                ``context_at`` of the turn's :class:`ActProducts`).

        Returns:
            The open part.
        """
        writer = self.store.writer
        assert writer is not None
        rest: Future[_Finish] = Future()

        def early(cur: duckdb.DuckDBPyConnection) -> tuple[TurnProducts, list[int]]:
            self._write_context(cur, turn_id, assembled.inclusions, assembled.retrieval, context_at)
            if not writer.hold(rest):
                with contextlib.suppress(InvalidStateError):  # else the rest just came
                    rest.set_exception(_Preempted())
            return rest.result()(cur)  # _Preempted, _Abandoned: rolled back

        return EarlyPart(writer.submit(early), rest, context_at)

    def commit(
        self,
        done: ActProducts,
        gate: Callable[[], TurnProducts],
        now: datetime,
        overlap: float,
        early: EarlyPart | None = None,
    ) -> tuple[TurnProducts, list[int]]:
        """Commit a turn in one transaction, writing what the act produced while the
        gates run on this thread.

        The writer opens the transaction and writes the LLM calls, the reply event,
        the context's effects (inclusions, access statistics, co-access) and the gut
        delta; meanwhile ``gate`` runs here (it embeds the reply: ONNX releases the
        GIL). The writer waits up to ``overlap`` seconds for the gates' products
        (minted memories, reinforcements, scratch items, the turn record), writes
        them and commits. A later gate has the act's part rolled back (other writes
        wait no longer than that) and the whole turn written after it. The scoring
        cache gets the context's effects once the transaction has committed.

        Args:
            done: the act's products.
            gate: runs the gates and returns the whole turn's products (it must not
                write to the store: the writer may be waiting for it).
            now: the commit time.
            overlap: ``engine.commit_overlap_seconds`` (0: write after the gates).
            early: the turn's part opened by :meth:`begin` (its context's effects
                written): the rest is written in the same transaction. When it was
                preempted, the whole turn is written here as without it.

        Returns:
            The turn's products and the ids of the memories minted (in
            ``products.prepared`` order).

        Raises:
            Exception: whatever ``gate`` or a statement raised (nothing was committed).
        """
        writer = self.store.writer
        assert writer is not None
        handoff: Future[TurnProducts] = Future()
        context_at = early.context_at if early is not None else (done.context_at or now)

        def finish(cur: duckdb.DuckDBPyConnection) -> tuple[TurnProducts, list[int]]:
            written = self._write_act(cur, done, now)
            try:
                products = handoff.result(overlap)  # a failed gate raises: rolled back
            except FutureTimeout:
                raise _GateLate from None
            return products, self._write_gated(cur, products, now, written)

        def overlapped(cur: duckdb.DuckDBPyConnection) -> tuple[TurnProducts, list[int]]:
            self._write_context(cur, done.turn_id, done.inclusions, done.retrieval, context_at)
            return finish(cur)

        pending = None
        if overlap > 0 and early is not None and early.deliver(finish):
            pending = early.future
        else:
            if early is not None:
                early.abandon()
            if overlap > 0:
                pending = writer.submit(overlapped)
        try:
            products = gate()
        except BaseException as exc:
            handoff.set_exception(exc)
            if pending is not None:
                with contextlib.suppress(Exception):
                    pending.result()  # wait for the rollback
            raise
        handoff.set_result(products)
        committed = None
        if pending is not None:
            with contextlib.suppress(_GateLate, _Preempted):
                committed = pending.result()
        if committed is None:  # the writer gave up on the gates (or never waited)
            if overlap > 0:
                log.info("commit.after_gates", turn=done.turn_id, overlap_s=overlap)
            committed = (
                products,
                self.store.write(lambda cur: self._write_all(cur, done, products, now, context_at)),
            )
        if self.memory is not None:  # the store has them now: so may the scoring cache
            if done.retrieval is not None:
                self.memory.cache_retrieval_effects(done.retrieval, context_at)
            cache_inclusions(self.memory, done.inclusions, context_at)
        return committed

    def _write_all(
        self,
        cur: duckdb.DuckDBPyConnection,
        d: ActProducts,
        p: TurnProducts,
        now: datetime,
        context_at: datetime,
    ) -> list[int]:
        """The whole turn, once the gates are done."""
        self._write_context(cur, d.turn_id, d.inclusions, d.retrieval, context_at)
        return self._write_gated(cur, p, now, self._write_act(cur, d, now))

    def _write_context(
        self,
        cur: duckdb.DuckDBPyConnection,
        turn_id: int,
        inclusions: list[Inclusion],
        retrieval: SearchResult | None,
        at: datetime,
    ) -> None:
        """The context's effects: inclusions, access statistics, co-access."""
        if self.memory is not None:
            cap = self.policy.weights.max_center
            stats = MemoryStatUpdates(cap, self.policy.compaction.access.tau_days * 86400)
            if retrieval is not None:
                self.memory.retrieval_effects_in(cur, retrieval, at, stats)
            record_inclusions(cur, turn_id, inclusions, at, self.memory, stats)
            stats.write(cur)

    def _write_act(
        self, cur: duckdb.DuckDBPyConnection, d: ActProducts, now: datetime
    ) -> dict[str, Any]:
        """The act's part of the turn; returns the record entries it made."""
        assert self.store.writer is not None
        record: dict[str, Any] = {
            "llm_calls": [self.ledger.insert(cur, d.turn_id, r) for r in d.act.llm_results]
        }
        if d.act.output is not None:
            reply = NewEvent(
                type=EventType.LLM_ASSISTANT_MESSAGE,
                source="engine",
                ts=now,
                channel_id=d.channel_id,
                payload={"content": d.act.output, "turn_id": d.turn_id},
            )
            record["output_event_id"] = insert_events(
                cur, self.store.writer.ids.take("events"), [reply]
            )[0]
        if d.gut is not None:
            Gut.insert(cur, d.turn_id, d.gut, now)
        return record

    def _write_gated(
        self,
        cur: duckdb.DuckDBPyConnection,
        p: TurnProducts,
        now: datetime,
        written: dict[str, Any],
    ) -> list[int]:
        """The gates' part of the turn and the turn record."""
        record = p.record
        record.update(written)
        memory_ids: list[int] = []
        if self.memory is not None:
            if p.prepared is not None:
                memory_ids = self.memory.insert_prepared(cur, p.prepared)
            exit_gate = self.policy.gates.exit
            reinforce_in(
                cur, p.reinforce, exit_gate.reinforce_alpha, self.policy.weights.max_center
            )
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
