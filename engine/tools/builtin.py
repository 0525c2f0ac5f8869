"""Built-in tools: memory search/add/context log, the clock, and the system status."""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field

from engine.store.sql import scalar
from engine.tools.registry import Scope, ToolContext, ToolRegistry, ToolSpec


class MemoryToolService(Protocol):
    """What the memory tools need from the memory subsystem."""

    def search_for_tool(self, query: str, k: int) -> list[dict[str, Any]]:
        """Hybrid search; each hit as {"id", "kind", "content", "score"}.

        Args:
            query: what to look for.
            k: how many results.

        Returns:
            The hits, best first.
        """
        ...

    def add_for_tool(self, text: str, kind: str, source_tag: str) -> int:
        """Store (and embed) a memory.

        Args:
            text: its content.
            kind: its kind (``fact``, ``preference``, ...).
            source_tag: who asked for it.

        Returns:
            The new memory id.
        """
        ...

    def log_inclusions(
        self, turn_id: int | None, context_id: str, items: list[tuple[int, int]]
    ) -> int:
        """Record that memories went into a context and update their access statistics.

        Args:
            turn_id: the turn, if any.
            context_id: the context they went into.
            items: (memory id, tokens) pairs.

        Returns:
            How many inclusions were recorded.
        """
        ...


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SearchArgs(_Args):
    query: str = Field(min_length=1, description="What to look for in memory.")
    k: int = Field(default=5, ge=1, le=50, description="How many memories to return.")


class AddArgs(_Args):
    text: str = Field(min_length=1, max_length=20000, description="What to remember.")
    kind: str = Field(default="fact", description="fact, preference, episodic, procedure...")


class InclusionItem(_Args):
    memory_id: int = Field(ge=1)
    tokens: int = Field(ge=0)


class ContextLogArgs(_Args):
    context_id: str = Field(min_length=1)
    session_id: str = ""
    items: list[InclusionItem]
    timestamp: float = 0


class NoArgs(_Args):
    pass


def _memory(ctx: ToolContext) -> MemoryToolService:
    service = ctx.services.get("memory")
    if service is None:
        raise RuntimeError("memory is not available in this engine")
    return service  # type: ignore[no-any-return]


def memory_search(args: SearchArgs, ctx: ToolContext) -> dict[str, Any]:
    return {"results": _memory(ctx).search_for_tool(args.query, args.k)}


def memory_add(args: AddArgs, ctx: ToolContext) -> dict[str, Any]:
    memory_id = _memory(ctx).add_for_tool(args.text, args.kind, ctx.source_tag.value)
    return {"memory_id": memory_id}


def context_log_write(args: ContextLogArgs, ctx: ToolContext) -> dict[str, Any]:
    items = [(item.memory_id, item.tokens) for item in args.items]
    return {"recorded": _memory(ctx).log_inclusions(ctx.turn_id, args.context_id, items)}


def clock_now(_args: NoArgs, ctx: ToolContext) -> dict[str, Any]:
    now = ctx.clock.now()
    return {"utc": now.isoformat(), "unix": now.timestamp(), "weekday": now.strftime("%A")}


def system_status(_args: NoArgs, ctx: ToolContext) -> dict[str, Any]:
    cur = ctx.store.reader()
    counts = {
        table: int(scalar(cur, f"SELECT count(*) FROM {table}"))
        for table in ("events", "memories", "turns", "tool_calls")
    }
    extra = ctx.services.get("status")
    status: dict[str, Any] = {"counts": counts, "time": ctx.clock.now().isoformat()}
    if callable(extra):
        status.update(extra())
    return status


def register_builtin_tools(registry: ToolRegistry) -> None:
    """Add the built-in tools to a registry."""
    for spec in (
        ToolSpec(
            "memory.search",
            "Search long-term memory (keyword + meaning).",
            SearchArgs,
            Scope.READ,
            memory_search,
            timeout_s=10,
        ),
        ToolSpec(
            "memory.add",
            "Store a new memory.",
            AddArgs,
            Scope.WRITE,
            memory_add,
            timeout_s=10,
            idempotent=False,
        ),
        ToolSpec(
            "memory.context_log_write",
            "Record which memories went into a context (keeps access statistics right).",
            ContextLogArgs,
            Scope.WRITE,
            context_log_write,
            timeout_s=10,
        ),
        ToolSpec(
            "clock.now",
            "The current date and time (UTC).",
            NoArgs,
            Scope.READ,
            clock_now,
            timeout_s=2,
        ),
        ToolSpec(
            "system.status",
            "Counts of events, memories, turns and tool calls.",
            NoArgs,
            Scope.READ,
            system_status,
            timeout_s=5,
        ),
    ):
        registry.register(spec)
