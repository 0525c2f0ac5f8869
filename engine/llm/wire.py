"""Converting a :class:`ChatRequest` into what goes on the wire.

Tool strategies (see :func:`tool_strategy`):

* native: tools are declared in the provider's tool API under sanitized names
  (``memory.search`` -> ``memory__search``), earlier calls and results are
  sent as ``tool_calls`` / ``role="tool"`` messages;
* constrained: the model sees the tools in its system prompt, must answer with
  the envelope (enforced with a JSON schema), and earlier calls and results are
  replayed as plain assistant/user text so any chat template accepts them;
* prompted: like constrained, without the schema (servers that cannot enforce one);
* none: no tools, no envelope.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from engine.llm.base import ChatMessage, ChatOptions, ChatRequest
from engine.llm.envelope import (
    ToolCallEnvelope,
    envelope_json_schema,
    envelope_to_json,
    tool_instructions,
    wire_tool_names,
)

ToolStrategy = Literal["none", "native", "constrained", "prompted", "hybrid"]


def tool_strategy(
    request: ChatRequest, auto: ToolStrategy = "native", supports_hybrid: bool = False
) -> ToolStrategy:
    """Decide how this request's tools reach the model.

    Args:
        request: the request.
        auto: what "auto" means for this provider.
        supports_hybrid: the provider implements "hybrid" (else it means "native").

    Returns:
        "none" when no envelope is expected, else the strategy. "hybrid" with
        ``tool_choice="required"`` becomes "constrained" (one schema-bound pass).
    """
    if not request.expects_envelope:
        return "none"
    mode: ToolStrategy = auto if request.tool_mode == "auto" else request.tool_mode
    if mode == "hybrid" and not supports_hybrid:
        return "native"
    if mode == "hybrid" and request.tool_choice == "required":
        return "constrained"
    if mode == "hybrid" and (request.tool_choice == "none" or not request.tools):
        return "constrained"
    return mode


def uses_envelope_text(strategy: ToolStrategy) -> bool:
    """True when the model writes the envelope as JSON text (constrained or prompted)."""
    return strategy in ("constrained", "prompted")


def native_call_schema(
    request: ChatRequest, wire_names: dict[str, str], per_tool_args: bool = False
) -> dict[str, Any]:
    """The schema of one tool call in the native ``{"name", "arguments"}`` shape.

    Used to regenerate a tool call the model started but botched, with the same
    prompt (so the prompt cache still applies).

    Args:
        request: the request (its tools).
        wire_names: ``{wire_name: our_name}``.
        per_tool_args: constrain each tool's arguments to its own schema.

    Returns:
        A JSON schema.
    """
    by_name = {ours: wire for wire, ours in wire_names.items()}

    def branch(name_schema: dict[str, Any], arguments: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {"name": name_schema, "arguments": arguments},
            "required": ["name", "arguments"],
            "additionalProperties": False,
        }

    if not per_tool_args:
        return branch({"type": "string", "enum": list(wire_names)}, {"type": "object"})
    branches = [
        branch({"const": by_name[tool.name]}, {"type": "object", **tool.parameters})
        for tool in request.tools
    ]
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def output_schema(
    request: ChatRequest, strategy: ToolStrategy, per_tool_args: bool = False
) -> dict[str, Any] | None:
    """The JSON schema the output must follow, if any.

    Args:
        request: the request.
        strategy: the tool strategy.
        per_tool_args: build one schema branch per tool.

    Returns:
        The envelope schema when constrained, None when prompted, else
        ``request.response_schema``.
    """
    if strategy == "constrained":
        return envelope_json_schema(
            request.tools, per_tool_args=per_tool_args, tool_choice=request.tool_choice
        )
    if strategy == "prompted":
        return None
    return request.response_schema


def wire_messages(
    request: ChatRequest, strategy: ToolStrategy, wire_names: dict[str, str], ollama: bool
) -> list[dict[str, Any]]:
    """The messages to send for a strategy.

    Args:
        request: the request.
        strategy: the tool strategy.
        wire_names: ``{wire_name: our_name}`` (native only).
        ollama: use Ollama's dialect for native tool messages.

    Returns:
        Wire messages.
    """
    if uses_envelope_text(strategy):
        return constrained_messages(request)
    if strategy in ("native", "hybrid"):
        return native_messages(request, wire_names, ollama=ollama)
    return plain_messages(request)


def openai_sampling_fields(options: ChatOptions) -> dict[str, Any]:
    """The sampling options an OpenAI-style body carries (only those that are set).

    Args:
        options: the request's options.

    Returns:
        ``temperature``, ``max_tokens``, ``seed`` and ``stop`` where given.
    """
    fields: dict[str, Any] = {}
    if options.temperature is not None:
        fields["temperature"] = options.temperature
    if options.max_tokens is not None:
        fields["max_tokens"] = options.max_tokens
    if options.seed is not None:
        fields["seed"] = options.seed
    if options.stop:
        fields["stop"] = list(options.stop)
    return fields


def native_tool_names(request: ChatRequest) -> dict[str, str]:
    """``{wire_name: our_name}`` for the request's tools."""
    return wire_tool_names(tool.name for tool in request.tools)


def openai_tools(request: ChatRequest, wire_names: dict[str, str]) -> list[dict[str, Any]]:
    """The ``tools`` array of an OpenAI-style (and Ollama) request.

    Args:
        request: the request.
        wire_names: ``{wire_name: our_name}``.

    Returns:
        Function tool declarations under their wire names.
    """
    by_name = {ours: wire for wire, ours in wire_names.items()}
    return [
        {
            "type": "function",
            "function": {
                "name": by_name[tool.name],
                "description": tool.description,
                "parameters": tool.parameters,
            },
        }
        for tool in request.tools
    ]


def native_messages(
    request: ChatRequest, wire_names: dict[str, str], ollama: bool
) -> list[dict[str, Any]]:
    """Messages for a native-tools request.

    Args:
        request: the request.
        wire_names: ``{wire_name: our_name}``.
        ollama: Ollama's dialect (arguments as an object, ``tool_name`` on
            results) rather than OpenAI's (arguments as a JSON string).

    Returns:
        Wire messages.
    """
    by_name = {ours: wire for wire, ours in wire_names.items()}
    out: list[dict[str, Any]] = []
    last_call_id: str | None = None
    for index, message in enumerate(request.messages):
        wire: dict[str, Any] = {"role": message.role, "content": message.content}
        if message.role == "assistant" and message.tool_call is not None:
            call = message.tool_call
            last_call_id = call.id or f"call_{index}"
            arguments: Any = call.args if ollama else json.dumps(call.args)
            wire["tool_calls"] = [
                {
                    "id": last_call_id,
                    "type": "function",
                    "function": {"name": by_name.get(call.name, call.name), "arguments": arguments},
                }
            ]
        elif message.role == "tool":
            wire["tool_call_id"] = message.tool_call_id or last_call_id or f"call_{index}"
            if ollama and message.name:
                wire["tool_name"] = by_name.get(message.name, message.name)
        out.append(wire)
    return out


def constrained_messages(request: ChatRequest, instruct: bool = True) -> list[dict[str, Any]]:
    """Messages for an envelope-constrained request.

    Args:
        request: the request.
        instruct: add the envelope/tool instructions to the system prompt.

    Returns:
        Wire messages; only system/user/assistant roles.
    """
    out: list[dict[str, Any]] = [_flatten(message) for message in request.messages]
    if not instruct:
        return out
    instructions = tool_instructions(request.tools, request.tool_choice)
    if out and out[0]["role"] == "system":
        out[0] = {"role": "system", "content": f"{out[0]['content']}\n\n{instructions}"}
    else:
        out.insert(0, {"role": "system", "content": instructions})
    return out


def plain_messages(request: ChatRequest) -> list[dict[str, Any]]:
    """Messages for a request with no tools (tool history flattened to text)."""
    return [_flatten(message) for message in request.messages]


def _flatten(message: ChatMessage) -> dict[str, Any]:
    if message.role == "assistant" and message.tool_call is not None:
        envelope = ToolCallEnvelope(name=message.tool_call.name, args=message.tool_call.args)
        return {"role": "assistant", "content": envelope_to_json(envelope)}
    if message.role == "tool":
        label = f"Result of tool {message.name}" if message.name else "Tool result"
        return {"role": "user", "content": f"{label}:\n{message.content}"}
    return {"role": message.role, "content": message.content}
