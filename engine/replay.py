"""Replay a recorded turn: same prompt, recorded model replies, recorded tool results.

A recorded replay feeds the ACT loop the turn's own prompt and the model results
recorded in its turn record, and answers every tool call with the recorded result
(matched by position, tool and arguments). Nothing is written anywhere: no event,
no tool call row, no memory. The replay matches when the output, the tool-call
sequence and every request sent to the model are the same as recorded.

A live replay (``live=True``) sends the recorded prompt to the current provider;
read-only tools run against the current memory without changing it (no access
statistics, no reinforcement); write, external and admin tools are never run:
they get their recorded result, or a "not run in replay" answer.
"""

from __future__ import annotations

import difflib
import json
import threading
from dataclasses import dataclass
from typing import Any

from engine.clock import Clock
from engine.errors import CephalonError
from engine.llm.base import ChatMessage, ChatResult, Provider
from engine.llm.scripted import ScriptedProvider
from engine.memory.service import MemoryService
from engine.pipeline.act import ActLoop, request_digest
from engine.policy import Policy
from engine.store import Store
from engine.tools.calls import canonical_json
from engine.tools.registry import Scope, SourceTag, ToolContext, ToolRegistry
from engine.tools.runtime import ToolOutcome


class _NoBudget:
    """Replays spend no budget."""

    def tokens_exhausted(self) -> str | None:
        return None


class _ReadOnlyMemory:
    """The memory tools' view of memory during a live replay: search without effects."""

    def __init__(self, memory: MemoryService) -> None:
        self._memory = memory

    def search_for_tool(self, query: str, k: int) -> list[dict[str, Any]]:
        return [
            {"id": h.id, "kind": h.kind, "content": h.content, "score": h.score}
            for h in self._memory.search(query, k, mutate=False).hits
        ]

    def add_for_tool(self, text: str, kind: str, source_tag: str) -> int:
        raise RuntimeError("memory.add is not run in a replay")

    def log_inclusions(self, turn_id: int | None, context_id: str, items: object) -> int:
        return 0


class ReplayTools:
    """Answers tool calls from a recording (and, live, runs read-only tools)."""

    def __init__(
        self,
        registry: ToolRegistry,
        recorded: list[dict[str, Any]],
        *,
        live_reads: ToolContext | None = None,
        offered: list[str] | None = None,
    ) -> None:
        """Create the replay tool runtime.

        Args:
            registry: the tools (for schemas and scopes).
            recorded: the turn's tool calls, in order (``tool``, ``args``, ``status``,
                ``result``, ``error``).
            live_reads: run read-scope tools for real with this context (live replay).
            offered: the tools the recorded turn offered the model (None = every tool,
                as turns recorded before offers were filtered saw).
        """
        self.registry = registry
        self.budgets = _NoBudget()
        self._recorded = list(recorded)
        self._position = 0
        self._live = live_reads
        self._offered = offered
        self.calls: list[dict[str, Any]] = []
        """Every call the replay made, with what it got back."""

    def offered_tools(self, source: SourceTag) -> list[str]:
        """The tools the recorded turn offered (same signature as ToolRuntime's)."""
        return list(self._offered) if self._offered is not None else self.registry.names()

    def call(
        self,
        name: str,
        args: dict[str, Any],
        *,
        turn_id: int | None,
        source: SourceTag,
        confidence: float | None = None,
    ) -> ToolOutcome:
        """Answer one tool call without side effects (same signature as ToolRuntime.call)."""
        index = len(self.calls)
        recorded = self._recorded[index] if index < len(self._recorded) else None
        # the model saw the call's id in the transcript: reuse the recorded one
        call_id = int(recorded["id"]) if recorded is not None and "id" in recorded else index + 1
        spec = self.registry.get(name)
        if self._live is not None and spec is not None and spec.scope == Scope.READ:
            try:
                parsed = spec.args_model.model_validate(args)
                outcome = ToolOutcome(call_id, name, "ok", spec.fn(parsed, self._live))
            except Exception as exc:
                outcome = ToolOutcome(call_id, name, "error", error=f"{exc}")
        elif (
            recorded is not None
            and recorded["tool"] == name
            and canonical_json(recorded["args"]) == canonical_json(args)
        ):
            outcome = ToolOutcome(
                call_id, name, recorded["status"], recorded.get("result"), recorded.get("error")
            )
        else:
            outcome = ToolOutcome(
                call_id, name, "skipped", error="not run in replay (no matching recorded call)"
            )
        self.calls.append(
            {
                "tool": name,
                "args": args,
                "status": outcome.status,
                "result": outcome.result,
                "error": outcome.error,
            }
        )
        return outcome


@dataclass
class ReplayDeps:
    """What a replay needs from the engine (nothing it could write through)."""

    store: Store
    registry: ToolRegistry
    policy: Policy
    clock: Clock
    provider: Provider | None = None
    memory: MemoryService | None = None


def _sequence(calls: list[dict[str, Any]]) -> list[str]:
    return [f"{c['tool']} {canonical_json(c['args'])} -> {c['status']}" for c in calls]


def replay_turn(deps: ReplayDeps, record: dict[str, Any], *, live: bool = False) -> dict[str, Any]:
    """Re-run a recorded turn.

    Args:
        deps: store (read), tools, policy, and for ``live`` the provider and memory.
        record: the turn record (``engine.turns_query.get_turn``).
        live: use the current provider and memory instead of the recording.

    Returns:
        ``{"turn_id", "mode", "match", "original", "replayed", "diff", "stages"}``.

    Raises:
        CephalonError: the turn has no replayable record, or live without a provider.
    """
    if "prompt" not in record or "llm_results" not in record:
        raise CephalonError(
            f"turn {record.get('id')} has no replayable record (status {record.get('status')})"
        )
    prompt = [ChatMessage.model_validate(m) for m in record["prompt"]]
    recorded_results = [ChatResult.model_validate(r) for r in record["llm_results"]]
    recorded_calls: list[dict[str, Any]] = record.get("tool_call_log", [])
    offered: list[str] | None = record.get("offered_tools")
    if live:
        if deps.provider is None:
            raise CephalonError("a live replay needs a provider")
        provider: Provider = deps.provider
        services: dict[str, Any] = {}
        if deps.memory is not None:
            services["memory"] = _ReadOnlyMemory(deps.memory)
        context = ToolContext(deps.store, deps.clock, None, SourceTag.OPERATOR, services)
        tools = ReplayTools(deps.registry, recorded_calls, live_reads=context, offered=offered)
    else:
        provider = ScriptedProvider.from_recorded(recorded_results)
        tools = ReplayTools(deps.registry, recorded_calls, offered=offered)
    loop = ActLoop(provider, tools, deps.policy)
    result = loop.run(
        prompt,
        turn_id=None,
        source=SourceTag(record.get("source_tag", "operator")),
        cancel=threading.Event(),
    )
    original, replayed = record.get("output"), result.output
    stages = [
        _stage("output", original, replayed),
        _stage("tool_calls", _sequence(recorded_calls), _sequence(tools.calls)),
        _stage("stop_reason", record.get("stop_reason"), result.stop_reason),
    ]
    if not live:
        stages.append(
            _stage(
                "llm_requests",
                record.get("request_digests", []),
                [request_digest(r) for r in result.requests],
            )
        )
    diff = "\n".join(
        difflib.unified_diff(
            (original or "").splitlines(),
            (replayed or "").splitlines(),
            "original",
            "replayed",
            lineterm="",
        )
    )
    return {
        "turn_id": record.get("id"),
        "mode": "live" if live else "recorded",
        "match": all(s["match"] for s in stages) if not live else original == replayed,
        "original": original,
        "replayed": replayed,
        "diff": diff,
        "stages": stages,
        "tool_calls": tools.calls,
    }


def _stage(name: str, original: Any, replayed: Any) -> dict[str, Any]:
    same = json.dumps(original, sort_keys=True, default=str) == json.dumps(
        replayed, sort_keys=True, default=str
    )
    return {"stage": name, "match": same, "original": original, "replayed": replayed}
