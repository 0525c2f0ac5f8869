"""Building the final :class:`ChatResult`: envelope, usage estimate, timings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.llm.base import ChatRequest, ChatResult, Timings, Usage
from engine.llm.envelope_repair import RepairResult, envelope_from_dict, repair_envelope
from engine.llm.json_repair import parse_json_object

CHARS_PER_TOKEN = 4.0
"""The documented estimate used when a provider reports no token counts."""


@dataclass(frozen=True)
class NativeToolCall:
    """A tool call from a provider's native tool API, before mapping to the envelope.

    Attributes:
        name: the name on the wire (possibly a sanitized form of ours).
        arguments: a JSON string (OpenAI) or an object (Ollama).
        id: the provider's call id, if any.
    """

    name: str
    arguments: str | dict[str, Any]
    id: str | None = None


def envelope_from_native_calls(
    calls: list[NativeToolCall], tool_names: list[str], wire_names: dict[str, str]
) -> RepairResult:
    """Map native tool calls onto the envelope (the first call; extra calls are noted).

    Args:
        calls: the native calls, in order (must not be empty).
        tool_names: our tool names.
        wire_names: ``{wire_name: our_name}`` used when the request was sent.

    Returns:
        A RepairResult; a malformed arguments string is repaired or reported.
    """
    repairs: list[str] = []
    if len(calls) > 1:
        repairs.append(f"dropped_extra_tool_calls:{len(calls) - 1}")
    call = calls[0]
    args: Any = call.arguments
    if isinstance(args, str):
        decoded = _loads_object(args)
        if decoded is None:
            decoded, error = parse_json_object(args, repairs)
            if decoded is None:
                return RepairResult(None, repairs, f"tool call arguments: {error}")
        args = decoded
    data: dict[str, Any] = {"type": "tool_call", "name": call.name, "args": args}
    data["call_id"] = call.id
    return envelope_from_dict(data, tool_names, repairs, wire_names)


def estimate_tokens(text: str) -> int:
    """Estimate a token count from characters (about 4 per token).

    Args:
        text: any text.

    Returns:
        A non-negative estimate.
    """
    return round(len(text) / CHARS_PER_TOKEN) if text else 0


def build_result(
    request: ChatRequest,
    *,
    text: str,
    provider: str,
    model: str,
    raw: dict[str, Any],
    timings: Timings,
    usage: Usage | None = None,
    finish_reason: str | None = None,
    native_calls: list[NativeToolCall] | None = None,
    wire_names: dict[str, str] | None = None,
    constrained: bool = False,
) -> ChatResult:
    """Assemble a ChatResult, parsing the envelope when the request expects one.

    Args:
        request: the request that was sent.
        text: the full text output.
        provider: provider name.
        model: model name.
        raw: the wire exchange (no credentials).
        timings: measured timings.
        usage: reported usage, or None to estimate it.
        finish_reason: why generation stopped ("cancelled" when the caller stopped it).
        native_calls: tool calls from a native tool API.
        wire_names: ``{wire_name: our_name}`` for native calls.
        constrained: the output was constrained to the envelope schema; when
            False, plain prose is the normal way to answer and not a repair.

    Returns:
        The result.
    """
    if usage is None:
        prompt = "".join(message.content for message in request.messages)
        usage = Usage(
            tokens_in=estimate_tokens(prompt), tokens_out=estimate_tokens(text), estimated=True
        )
    result = ChatResult(
        text=text,
        finish_reason=finish_reason,
        usage=usage,
        timings=timings,
        provider=provider,
        model=model,
        raw=raw,
    )
    if not request.expects_envelope:
        return result
    if finish_reason == "cancelled":
        result.envelope_error = "generation was cancelled"
        return result
    names = [tool.name for tool in request.tools]
    if native_calls:
        repaired = envelope_from_native_calls(native_calls, names, wire_names or {})
    else:
        repaired = repair_envelope(text, names, wire_names)
        if not constrained and repaired.repairs == ["prose_to_message"]:
            repaired.repairs = []
    result.envelope = repaired.envelope
    result.repairs = repaired.repairs
    result.envelope_error = repaired.error
    return result


def _loads_object(text: str) -> dict[str, Any] | None:
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
