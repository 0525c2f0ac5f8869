"""Memory compaction: plan -> summarize -> commit (or abort), for tools and the janitor job.

* :meth:`Compactor.plan` picks candidates (:mod:`engine.memory.gc_plan`) and stores
  one ``planned`` row per group, in one transaction (two planners never share a memory).
* :meth:`Compactor.summarize` asks the LLM for a ``json_v1`` summary
  (:mod:`engine.memory.compaction_summary`); an invalid answer aborts the plan.
* :meth:`Compactor.commit` writes, in ONE transaction: the summary memory (and its
  vector), a ``memory.summary.created`` and a ``memory.compaction.deleted`` event, a
  tombstone per source, the sources marked deleted with their vectors purged, and the
  plan ``committed``. Only then are the in-memory indexes updated (a crash in
  between is repaired when the memory service next opens: DuckDB is the truth).
  If any source changed since planning (deleted, pinned, locked, used again) the
  transaction rolls back and the plan is aborted with the reason.
* :meth:`Compactor.abort` only marks the plan ``aborted``; nothing else changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import duckdb
import structlog

from engine.clock import Clock
from engine.costs import CostLedger
from engine.llm.base import ChatResult, Provider
from engine.llm.errors import ProviderError
from engine.memory.compaction_commit import CommitResult, summary_memory, write_commit
from engine.memory.compaction_plans import (
    PlanRecord,
    expire_open_plans,
    insert_plans,
    load_open_plan,
    load_plan,
    record_summary,
    set_status,
)
from engine.memory.compaction_summary import (
    CompactionError,
    Summary,
    check_summary,
    parse_summary,
    summary_request,
)
from engine.memory.gc_plan import GcGroup, PlanLimits, group_candidates, iter_candidates
from engine.memory.records import Memory
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store

__all__ = [
    "CommitResult",
    "CompactionError",
    "Compactor",
    "GcGroup",
    "Summary",
    "SummaryUnavailable",
]
log = structlog.get_logger("cephalon.compaction")
REPORT_COUNTS = (
    "planned",
    "committed",
    "aborted",
    "summaries_created",
    "memories_deleted",
    "tombstones",
)


class SummaryUnavailable(CompactionError):
    """The provider failed (down, timed out): no summary, not a bad one."""


class Compactor:
    """Garbage collection of old, unused memories into summaries."""

    def __init__(
        self,
        store: Store,
        memory: MemoryService,
        provider: Provider | None,
        policy: Policy,
        clock: Clock,
    ) -> None:
        self.store = store
        self.memory = memory
        self.provider = provider
        self.policy = policy
        self.section = policy.compaction
        self.clock = clock
        self.ledger = CostLedger(store, clock, policy.llm)

    def get_plan(self, plan_id: int) -> PlanRecord:
        """One stored plan (raises :class:`CompactionError` when unknown)."""
        return load_plan(self.store.reader(), plan_id)

    # -- plan ---------------------------------------------------------------------------

    def plan(
        self, limit_groups: int | None = None, limits: PlanLimits | None = None
    ) -> list[GcGroup]:
        """Select candidates, group them and store each group as a ``planned`` plan.

        Plans left open longer than one compaction interval are expired first.

        Args:
            limit_groups: at most this many groups (never more than the policy allows).
            limits: selection rules (default: the policy's).

        Returns:
            The stored groups, oldest first (empty when nothing qualifies).
        """
        rules = (limits or PlanLimits.from_policy(self.section)).stricter(max_groups=limit_groups)
        now = self.clock.now()
        ttl = timedelta(minutes=self.section.interval_minutes)

        def job(cur: duckdb.DuckDBPyConnection) -> list[GcGroup]:
            assert self.store.writer is not None
            expired = expire_open_plans(cur, ttl, now)
            if expired:
                log.info("compaction plans expired", count=expired)
            groups = group_candidates(iter_candidates(cur, rules, now), rules)
            if not groups:
                return []
            first = self.store.writer.ids.take("compaction_plans", len(groups))
            return insert_plans(cur, first, groups, now)

        return self.store.write(job)

    # -- summarize ----------------------------------------------------------------------

    def _sources(self, plan: PlanRecord) -> list[Memory]:
        found = self.memory.repo.get_many(plan.source_ids)
        gone = [i for i in plan.source_ids if i not in found or found[i].deleted]
        if gone:
            raise CompactionError(f"source memories deleted since planning: {gone[:10]}")
        return sorted(found.values(), key=lambda m: (m.time, m.id))

    def summarize(self, plan_id: int) -> Summary:
        """Ask the LLM for a ``json_v1`` summary of a plan's memories and store it.

        Args:
            plan_id: an open plan.

        Returns:
            The summary (the plan becomes ``summarized``).

        Raises:
            CompactionError: no provider; the plan is unknown or closed; a source is gone;
                the answer is invalid (the plan is then ``aborted`` with the reason).
            SummaryUnavailable: the provider failed (the plan is ``aborted``).
        """
        if self.provider is None:
            raise CompactionError("no LLM provider is configured to write summaries")
        plan = load_open_plan(self.store.reader(), plan_id)
        try:
            sources = self._sources(plan)
        except CompactionError as exc:
            self.abort(plan_id, str(exc))
            raise
        policy = self.section.summary
        request = summary_request(sources, plan.header, policy)
        try:
            result = self.provider.chat(request)
        except ProviderError as exc:
            self.abort(plan_id, f"summary unavailable: {exc}")
            raise SummaryUnavailable(f"summary unavailable for plan {plan_id}: {exc}") from exc
        try:
            summary = parse_summary(result.text, result.finish_reason, policy)
        except CompactionError as exc:
            self._finish_summary(plan_id, result, None, str(exc))
            raise CompactionError(f"plan {plan_id} aborted: {exc}") from None
        self._finish_summary(plan_id, result, summary, None)
        return summary

    def _finish_summary(
        self, plan_id: int, result: ChatResult, summary: Summary | None, error: str | None
    ) -> None:
        now = self.clock.now()
        data = summary.model_dump(mode="json") if summary is not None else None
        self.store.write(
            lambda cur: record_summary(cur, self.ledger, plan_id, result, data, error, now)
        )

    # -- commit / abort -----------------------------------------------------------------

    def commit(
        self,
        plan_id: int,
        summary: Summary | dict[str, Any] | None = None,
        source_ids: Sequence[int] | None = None,
    ) -> CommitResult:
        """Replace a plan's memories by its summary, in one transaction.

        Args:
            plan_id: an open plan.
            summary: the summary to commit (default: the one :meth:`summarize` stored).
            source_ids: when given, must be exactly the plan's sources (a guard).

        Returns:
            The summary memory id and how many memories were deleted and tombstoned.

        Raises:
            CompactionError: the plan is unknown, closed or unsummarized; the guard or the
                summary does not match; a source changed since planning (the plan is
                then aborted and nothing else changes).
        """
        plan = load_open_plan(self.store.reader(), plan_id)
        if source_ids is not None and sorted(source_ids) != sorted(plan.source_ids):
            raise CompactionError(f"source_ids do not match compaction plan {plan_id}")
        chosen = summary if summary is not None else plan.summary
        if chosen is None:
            raise CompactionError(f"plan {plan_id} has no summary yet: summarize it first")
        final = check_summary(chosen, self.section.summary)
        try:
            sources = self._sources(plan)
        except CompactionError as exc:
            self.abort(plan_id, str(exc))
            raise
        item = summary_memory(plan, final, sources, self.section.summary.index_summary)
        prepared = self.memory.prepare([item])
        now = self.clock.now()

        def job(cur: duckdb.DuckDBPyConnection) -> CommitResult:
            return write_commit(cur, self.memory, plan, prepared, final, self.section, now)

        try:
            outcome = self.store.write(job)
        except CompactionError as exc:
            self.abort(plan_id, str(exc))
            raise
        self.memory.index_prepared([outcome.summary_memory_id], prepared)
        self.memory.purge_indexes(list(plan.source_ids))
        log.info("compaction committed", **outcome.as_dict())
        return outcome

    def abort(self, plan_id: int, reason: str) -> None:
        """Mark a plan ``aborted``; nothing else changes. Aborting an aborted plan is a no-op.

        Args:
            plan_id: the plan.
            reason: why (stored in ``error``).

        Raises:
            CompactionError: unknown plan, or already committed.
        """
        now = self.clock.now()

        def job(cur: duckdb.DuckDBPyConnection) -> None:
            plan = load_plan(cur, plan_id)
            if plan.status == "committed":
                raise CompactionError(f"compaction plan {plan_id} is already committed")
            if plan.open:
                set_status(cur, plan_id, "aborted", now, error=reason)

        self.store.write(job)

    # -- the janitor's entry point -------------------------------------------------------

    def run_all(self, max_groups: int | None = None) -> dict[str, Any]:
        """Plan, then summarize and commit each group; abort a group whose summary is
        invalid and go on; stop at the first provider failure (aborting the rest).

        Args:
            max_groups: at most this many groups (never more than the policy allows).

        Returns:
            Counts for the janitor report: ``planned``, ``committed``, ``aborted``,
            ``summaries_created``, ``memories_deleted``, ``tombstones``, ``errors``.
        """
        report: dict[str, Any] = dict.fromkeys(REPORT_COUNTS, 0) | {"errors": []}
        if self.provider is None:
            report["skipped"] = "no LLM provider is configured to write summaries"
            return report
        groups = self.plan(max_groups)
        report["planned"] = len(groups)
        for index, group in enumerate(groups):
            try:
                self.summarize(group.plan_id)
                done = self.commit(group.plan_id)
            except SummaryUnavailable as exc:
                report["errors"].append(str(exc))
                for rest in groups[index + 1 :]:
                    self.abort(rest.plan_id, "run stopped: the provider failed")
                report["aborted"] += len(groups) - index
                break
            except CompactionError as exc:
                report["errors"].append(str(exc))
                report["aborted"] += 1
                continue
            report["committed"] += 1
            report["summaries_created"] += 1
            report["memories_deleted"] += done.deleted
            report["tombstones"] += done.tombstones
        return report
