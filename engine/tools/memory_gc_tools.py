"""The garbage-collection tools: ``memory.gc_plan``, ``memory.summarize``,
``memory.compact_commit`` and ``memory.compact_abort``.

Scopes: planning, summarizing and aborting are ``read``: they never change or
remove a memory (they write bookkeeping: plan rows and the summarizing call's
cost). Aborting is the safe direction, so it is never locked. Only
``memory.compact_commit`` deletes memories, so it is ``write`` and needs an
operator unlock.

Each plan row is one group: ``plan_id`` and ``group_id`` name the same thing.
The tools need ``services["memory"]`` (a :class:`MemoryService`) and, to summarize,
``services["provider"]`` (an LLM :class:`~engine.llm.base.Provider`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.tools.registry import Scope, SourceTag, ToolContext, ToolRegistry, ToolSpec

if TYPE_CHECKING:
    from engine.memory.compaction import Compactor
    from engine.policy import Policy


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GcPlanArgs(_Args):
    age_min_days: float | None = Field(
        default=None, ge=0, description="Only memories older than this (policy minimum applies)."
    )
    access_threshold: float | None = Field(
        default=None, ge=0, description="Only memories used less than this (policy maximum)."
    )
    limit_source_tokens: int | None = Field(
        default=None, ge=1, description="Tokens per group (policy maximum applies)."
    )
    max_groups: int | None = Field(
        default=None, ge=1, description="Groups to plan (policy maximum applies)."
    )


class SummarizeArgs(_Args):
    plan_id: int = Field(ge=1, description="The plan (group) to summarize.")
    format: Literal["json_v1"] = "json_v1"


class CommitArgs(_Args):
    plan_id: int = Field(ge=1, description="The summarized plan (group) to commit.")
    summary_json: dict[str, Any] | None = Field(
        default=None, description="A json_v1 summary to use instead of the stored one."
    )
    source_ids: list[int] | None = Field(
        default=None, description="If given, must equal the plan's source ids."
    )


class AbortArgs(_Args):
    plan_id: int = Field(ge=1)
    reason: str = Field(min_length=1, max_length=500)


def _compactor(ctx: ToolContext) -> Compactor:
    from engine.memory.compaction import Compactor

    memory = ctx.services.get("memory")
    if memory is None:
        raise RuntimeError("memory is not available in this engine")
    provider = ctx.services.get("provider")
    return Compactor(ctx.store, memory, provider, memory.policy, ctx.clock)


def gc_plan(args: GcPlanArgs, ctx: ToolContext) -> dict[str, Any]:
    from engine.memory.gc_plan import PlanLimits

    compactor = _compactor(ctx)
    limits = PlanLimits.from_policy(compactor.section).stricter(
        age_min_days=args.age_min_days,
        access_threshold=args.access_threshold,
        max_source_tokens=args.limit_source_tokens,
        max_groups=args.max_groups,
    )
    groups = compactor.plan(limits=limits)
    return {"plan_ids": [g.plan_id for g in groups], "groups": [g.as_dict() for g in groups]}


def summarize(args: SummarizeArgs, ctx: ToolContext) -> dict[str, Any]:
    summary = _compactor(ctx).summarize(args.plan_id)
    return {"plan_id": args.plan_id, "summary": summary.model_dump(mode="json")}


def compact_commit(args: CommitArgs, ctx: ToolContext) -> dict[str, Any]:
    done = _compactor(ctx).commit(args.plan_id, args.summary_json, args.source_ids)
    return done.as_dict()


def compact_abort(args: AbortArgs, ctx: ToolContext) -> dict[str, Any]:
    compactor = _compactor(ctx)
    compactor.abort(args.plan_id, args.reason)
    return {"plan_id": args.plan_id, "status": compactor.get_plan(args.plan_id).status}


_MAINTENANCE = frozenset({SourceTag.JOB, SourceTag.SYSTEM})
"""Compaction is maintenance: offered to job and system turns, not to conversation (an
operator runs it with ``cephalon jobs run janitor``)."""


def register_gc_tools(registry: ToolRegistry, policy: Policy | None = None) -> None:
    """Add the four GC tools to a registry.

    Args:
        registry: the registry.
        policy: sets the summarize tool's timeout (``compaction.summary.timeout_seconds``
            plus a margin); default: the shipped policy.
    """
    if policy is None:
        from engine.config import load_policy

        policy = load_policy().policy
    summary_timeout = policy.compaction.summary.timeout_seconds + 10
    for spec in (
        ToolSpec(
            "memory.gc_plan",
            "Plan memory compaction: group old, rarely used memories (no deletion).",
            GcPlanArgs,
            Scope.READ,
            gc_plan,
            timeout_s=30,
            offered_to=_MAINTENANCE,
        ),
        ToolSpec(
            "memory.summarize",
            "Summarize a planned group to a json_v1 summary (no deletion).",
            SummarizeArgs,
            Scope.READ,
            summarize,
            timeout_s=summary_timeout,
            offered_to=_MAINTENANCE,
        ),
        ToolSpec(
            "memory.compact_commit",
            "Replace a summarized group by its summary: tombstones, deletes, purges vectors.",
            CommitArgs,
            Scope.WRITE,
            compact_commit,
            timeout_s=60,
            offered_to=_MAINTENANCE,
            idempotent=False,
        ),
        ToolSpec(
            "memory.compact_abort",
            "Abandon a compaction plan; nothing is deleted.",
            AbortArgs,
            Scope.READ,
            compact_abort,
            timeout_s=10,
            offered_to=_MAINTENANCE,
        ),
    ):
        registry.register(spec)
