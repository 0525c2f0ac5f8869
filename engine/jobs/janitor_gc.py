"""The janitor's GC step: plan -> summarize -> commit, or abort, group by group.

Every group attempted counts as one janitor action. A group whose summary is
invalid is aborted (by the compactor) and the next group is tried; when the
provider fails (down, no model), that group and every remaining one are aborted
and GC stops: the janitor still reports.
"""

from __future__ import annotations

from typing import Any

import structlog

from engine.jobs.base import JobContext

log = structlog.get_logger("cephalon.jobs.janitor")


def _empty(note: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "planned": 0,
        "attempted": 0,
        "committed": 0,
        "aborted": 0,
        "summaries_created": 0,
        "memories_deleted": 0,
        "tombstones": 0,
        "errors": [],
        "groups": [],
        "backlog": False,
    }
    if note:
        out["note"] = note
    return out


def _abort(compactor: Any, plan_id: int, reason: str) -> None:
    try:
        compactor.abort(plan_id, reason)
    except Exception:  # already committed or gone: nothing to undo
        log.exception("janitor.abort_failed", plan_id=plan_id)


def run_gc(ctx: JobContext, limit: int, states: list[str]) -> dict[str, Any]:
    """Plan up to ``limit`` groups, then summarize and commit (or abort) each.

    Args:
        ctx: the job's context (needs ``memory``; ``provider`` writes the summaries).
        limit: at most this many groups (the action budget left).
        states: the run's state trace, appended to (``plan_gc``, ``summarize``, ...).

    Returns:
        Counts (``planned``, ``attempted``, ``committed``, ``aborted``,
        ``summaries_created``, ``memories_deleted``, ``tombstones``), ``errors``,
        per-group outcomes, ``backlog`` (the budget cut the plan short) and a ``note``
        when GC did not run.
    """
    if ctx.memory is None:
        return _empty("no memory service is open")
    if ctx.provider is None:
        return _empty("no LLM provider to write summaries")
    if limit <= 0:
        return {**_empty("janitor.max_actions_per_hour reached"), "backlog": True}
    from engine.memory.compaction import CompactionError, Compactor, SummaryUnavailable

    compactor = Compactor(ctx.store, ctx.memory, ctx.provider, ctx.policy, ctx.clock)
    states.append("plan_gc")
    groups = compactor.plan(limit_groups=limit)
    out = _empty()
    out["planned"] = len(groups)
    out["backlog"] = len(groups) >= limit
    stop_reason: str | None = None
    for group in groups:
        record: dict[str, Any] = {"plan_id": group.plan_id, "sources": len(group.source_ids)}
        out["groups"].append(record)
        if stop_reason is not None:
            _abort(compactor, group.plan_id, stop_reason)
            record["status"] = "aborted"
            out["aborted"] += 1
            continue
        out["attempted"] += 1
        states.append("summarize")
        try:
            compactor.summarize(group.plan_id)
            states.append("commit")
            done = compactor.commit(group.plan_id)
        except SummaryUnavailable as exc:
            stop_reason = f"not attempted: the provider failed ({exc})"
            error = str(exc)
        except CompactionError as exc:
            error = str(exc)
            _abort(compactor, group.plan_id, error)  # a no-op when it already aborted
        except Exception as exc:  # no usable model and the like: abort cleanly, stop GC
            error = f"{type(exc).__name__}: {exc}"
            stop_reason = f"not attempted: {error}"
            _abort(compactor, group.plan_id, f"summary failed: {error}")
        else:
            record.update(status="committed", summary_memory_id=done.summary_memory_id)
            out["committed"] += 1
            out["summaries_created"] += 1
            out["memories_deleted"] += done.deleted
            out["tombstones"] += done.tombstones
            continue
        states.append("abort")
        record.update(status="aborted", error=error)
        out["aborted"] += 1
        out["errors"].append(f"plan {group.plan_id}: {error}")
    if stop_reason is not None:
        out["backlog"] = False  # retry at the next GC interval, not at every beat
    return out
