"""Tool definitions: a name, a pydantic args model, a scope and how it may run."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from engine.clock import Clock
from engine.store import Store


class Scope(StrEnum):
    """What a tool may affect. Only ``read`` runs without an unlock by default."""

    READ = "read"
    WRITE = "write"
    EXTERNAL = "external"
    ADMIN = "admin"


class SourceTag(StrEnum):
    """Who asked, ultimately. Self-initiated and untrusted inputs need more to act."""

    OPERATOR = "operator"
    CHANNEL = "channel"
    UNTRUSTED = "untrusted"
    DMN = "dmn"
    JOB = "job"
    SYSTEM = "system"

    @property
    def self_initiated_or_untrusted(self) -> bool:
        """True for inputs that need more than the operator's word to cause effects."""
        return self in (SourceTag.UNTRUSTED, SourceTag.DMN, SourceTag.JOB)


@dataclass
class ToolContext:
    """What a running tool may use."""

    store: Store
    clock: Clock
    turn_id: int | None
    source_tag: SourceTag
    services: dict[str, Any] = field(default_factory=dict)
    """Engine services by name (``memory``, ``status``...), set by whoever builds the runtime."""


ToolFn = Callable[[Any, ToolContext], Any]


@dataclass(frozen=True)
class ToolSpec:
    """One tool.

    Attributes:
        name: dotted name the model calls it by (``memory.search``).
        description: what it does, for the model.
        args_model: pydantic model of its arguments; its JSON schema goes to the model.
        scope: what it may affect.
        fn: the implementation, ``fn(args, ctx) -> JSON-serializable result``.
        timeout_s: seconds before a call is abandoned (None = the policy default).
        network: retried with backoff on failure (only network tools are retried).
        idempotent: re-running it is harmless (results still cached by idempotency key).
        rate_limit_per_minute: calls allowed per rolling minute (None = unlimited).
        counts_as_message: a successful call spends the messages_per_hour budget.
        actions_per_hour: this tool's own hourly budget (None = only the global one).
        needs_service: offered to the model only while the runtime holds this service
            (``discord``); a small model picks worse among tools it cannot use.
        offered_to: the sources whose turns are offered this tool (None = every source).
    """

    name: str
    description: str
    args_model: type[BaseModel]
    scope: Scope
    fn: ToolFn
    timeout_s: float | None = None
    network: bool = False
    idempotent: bool = True
    rate_limit_per_minute: int | None = None
    counts_as_message: bool = False
    actions_per_hour: int | None = None
    needs_service: str | None = None
    offered_to: frozenset[SourceTag] | None = None

    def offered(self, source: SourceTag, services: Collection[str]) -> bool:
        """Whether a turn from ``source`` is offered this tool, given the live services."""
        if self.needs_service is not None and self.needs_service not in services:
            return False
        return self.offered_to is None or source in self.offered_to

    def schema(self) -> dict[str, Any]:
        """The tool as the model sees it: name, description and JSON-schema parameters."""
        return {
            "name": self.name,
            "description": self.description,
            "parameters": _json_schema(self.args_model),
        }


@functools.cache
def _json_schema_text(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema())


def _json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """An args model's JSON schema, built once per model (pydantic takes ~1 ms each)."""
    return dict(json.loads(_json_schema_text(model)))


class ToolRegistry:
    """The tools the agent may call, by name."""

    def __init__(self) -> None:
        self._tools: dict[str, ToolSpec] = {}

    def register(self, spec: ToolSpec) -> None:
        """Add a tool.

        Args:
            spec: the tool.

        Raises:
            ValueError: a tool with that name exists.
        """
        if spec.name in self._tools:
            raise ValueError(f"tool {spec.name!r} is already registered")
        self._tools[spec.name] = spec

    def get(self, name: str) -> ToolSpec | None:
        """The tool of that name, or None."""
        return self._tools.get(name)

    def names(self) -> list[str]:
        """Every tool name, sorted."""
        return sorted(self._tools)

    def schemas(self, names: Collection[str] | None = None) -> list[dict[str, Any]]:
        """Tool schemas in a stable order (part of the cacheable prompt prefix).

        Args:
            names: only these tools (None = every tool).

        Returns:
            One schema per tool, sorted by name.
        """
        return [
            self._tools[name].schema() for name in self.names() if names is None or name in names
        ]

    def offered(self, source: SourceTag, services: Collection[str]) -> list[str]:
        """The tools a turn from ``source`` is offered while ``services`` are live.

        Args:
            source: who the turn is for.
            services: names of the runtime's live services.

        Returns:
            Tool names, sorted.
        """
        return [n for n in self.names() if self._tools[n].offered(source, services)]
