"""The one output envelope every provider's answer is turned into.

The model answers with exactly one of::

    {"type": "tool_call", "name": "memory.search", "args": {"query": "..."}}
    {"type": "message", "content": "..."}
    {"type": "cancel", "reason": "..."}

Providers with a native tool API have their ``tool_calls`` mapped onto the
same envelope; the embedded model is constrained to it with a JSON schema
(:func:`envelope_json_schema`). Malformed output goes through
:func:`engine.llm.envelope_repair.repair_envelope`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter


class ToolCallEnvelope(BaseModel):
    """The model wants a tool run."""

    model_config = ConfigDict(frozen=True)

    type: Literal["tool_call"] = "tool_call"
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    call_id: str | None = None
    """The provider's id for a native tool call (needed to answer it); None otherwise."""


class MessageEnvelope(BaseModel):
    """The model answers in words."""

    model_config = ConfigDict(frozen=True)

    type: Literal["message"] = "message"
    content: str


class CancelEnvelope(BaseModel):
    """The model decides to do nothing this turn."""

    model_config = ConfigDict(frozen=True)

    type: Literal["cancel"] = "cancel"
    reason: str | None = None


Envelope = Annotated[
    ToolCallEnvelope | MessageEnvelope | CancelEnvelope, Field(discriminator="type")
]
ENVELOPE_ADAPTER: TypeAdapter[ToolCallEnvelope | MessageEnvelope | CancelEnvelope] = (
    TypeAdapter(Envelope)
)


class NamedTool(Protocol):
    """Anything with a name, description and JSON-schema parameters (a ToolSpec)."""

    @property
    def name(self) -> str:
        """The tool's name."""
        ...

    @property
    def description(self) -> str:
        """What the tool does."""
        ...

    @property
    def parameters(self) -> dict[str, Any]:
        """The JSON schema of the tool's arguments."""
        ...


def envelope_json_schema(
    tools: Sequence[NamedTool] | None = None,
    per_tool_args: bool = False,
    tool_choice: str = "auto",
) -> dict[str, Any]:
    """The JSON schema of the envelope, for constrained output.

    Args:
        tools: the tools the model may call; their names become an enum. With
            no tools, the tool_call branch is left out.
        per_tool_args: one branch per tool whose ``args`` follow that tool's
            parameter schema (stronger, but a bigger grammar).
        tool_choice: "required" leaves only the tool_call branch; "none" drops it.

    Returns:
        A JSON schema (``anyOf`` of the envelope variants).
    """
    branches: list[dict[str, Any]] = []
    names = [tool.name for tool in tools or ()] if tool_choice != "none" else []
    if names and per_tool_args:
        for tool in tools or ():
            branches.append(_tool_call_branch({"const": tool.name}, _args_schema(tool)))
    elif names:
        branches.append(_tool_call_branch({"type": "string", "enum": names}, {"type": "object"}))
    if names and tool_choice == "required":
        return {"anyOf": branches} if len(branches) > 1 else branches[0]
    branches.append(
        _object_schema(
            {"type": {"const": "message"}, "content": {"type": "string"}}, ["type", "content"]
        )
    )
    branches.append(
        _object_schema({"type": {"const": "cancel"}, "reason": {"type": "string"}}, ["type"])
    )
    return {"anyOf": branches}


def tool_instructions(tools: Sequence[NamedTool], tool_choice: str = "auto") -> str:
    """Explain the envelope and the tools, for models that get no native tool API.

    Args:
        tools: the callable tools (may be empty: then only message/cancel are offered).
        tool_choice: "required" asks for a tool call only; "none" offers no tools.

    Returns:
        Text to append to the system prompt. It is stable for a given tool list,
        so it stays in the cached prompt prefix.
    """
    tools = tools if tool_choice != "none" else []
    if tools and tool_choice == "required":
        return "\n".join(
            [
                "Answer with exactly one JSON object and nothing else:",
                '{"type": "tool_call", "name": "<tool>", "args": {...}}',
                "Tools:",
                *_tool_lines(tools),
            ]
        )
    lines = ["Answer with exactly one JSON object and nothing else, one of:"]
    if tools:
        lines += [
            '{"type": "tool_call", "name": "<tool>", "args": {...}} to use a tool. Use one'
            " whenever the answer depends on something not in this conversation (what the"
            " user told you before, the time, stored notes) or the user asks for something a"
            " tool does. Never make such facts up.",
        ]
    lines += [
        '{"type": "message", "content": "<text>"} to reply to the user.',
        '{"type": "cancel", "reason": "<why>"} to do nothing this turn.',
    ]
    if tools:
        lines += ["Tools:", *_tool_lines(tools)]
    return "\n".join(lines)


def _tool_lines(tools: Sequence[NamedTool]) -> list[str]:
    lines = []
    for tool in tools:
        args = _compact_args(tool.parameters)
        description = f": {tool.description}" if tool.description else ""
        lines.append(f"- {tool.name}({args}){description}")
    return lines


def wire_tool_names(names: Iterable[str]) -> dict[str, str]:
    """Map tool names to names every tool API accepts (``^[A-Za-z0-9_-]{1,64}$``).

    ``memory.search`` becomes ``memory__search``; collisions get a numeric suffix.

    Args:
        names: our tool names.

    Returns:
        ``{wire_name: our_name}``; use it to map native calls back.
    """
    mapping: dict[str, str] = {}
    for name in names:
        base = re.sub(r"[^A-Za-z0-9_-]", "_", name.replace(".", "__"))[:60] or "tool"
        wire, suffix = base, 2
        while wire in mapping:
            wire, suffix = f"{base}_{suffix}", suffix + 1
        mapping[wire] = name
    return mapping


def envelope_to_json(envelope: ToolCallEnvelope | MessageEnvelope | CancelEnvelope) -> str:
    """Serialize an envelope the way a model would write it (no ``call_id``).

    Args:
        envelope: any envelope.

    Returns:
        Compact JSON text.
    """
    return json.dumps(envelope.model_dump(exclude={"call_id"}, exclude_none=True))


def _tool_call_branch(name_schema: dict[str, Any], args_schema: dict[str, Any]) -> dict[str, Any]:
    properties = {"type": {"const": "tool_call"}, "name": name_schema, "args": args_schema}
    return _object_schema(properties, ["type", "name", "args"])


def _object_schema(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
    }


def _args_schema(tool: NamedTool) -> dict[str, Any]:
    schema = dict(tool.parameters or {})
    schema.setdefault("type", "object")
    return schema


def _compact_args(parameters: dict[str, Any]) -> str:
    properties = parameters.get("properties") or {}
    required = set(parameters.get("required") or [])
    parts = []
    for key, spec in properties.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        optional = "" if key in required else "?"
        parts.append(f"{key}{optional}: {kind}")
    return ", ".join(parts)
