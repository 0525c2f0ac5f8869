"""Turn what a model actually wrote into an envelope, and say what was fixed.

Small models wrap JSON in code fences, use single quotes, leave trailing
commas, say ``arguments`` instead of ``args``, JSON-encode the args object as
a string, misspell tool names, stop mid-object at the token limit, or just
answer in prose; some use Hermes-style ``<tool_call>`` tags or template-escaped
``{{...}}``. :func:`repair_envelope` fixes each of those and records a
short repair tag for each fix (kept with the turn); anything it cannot fix is
reported with ``envelope=None`` and an error text, never guessed.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from engine.llm.envelope import (
    ENVELOPE_ADAPTER,
    CancelEnvelope,
    MessageEnvelope,
    ToolCallEnvelope,
)
from engine.llm.json_repair import parse_json_object

TOOL_NAME_CUTOFF = 0.8
_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)(?:```|$)", re.DOTALL)
_TOOL_CALL_TAG = re.compile(r"<tool_call>\s*(.*?)\s*(?:</tool_call>|$)", re.DOTALL)
_TYPE_ALIASES = {
    "tool_call": "tool_call", "tool": "tool_call", "function": "tool_call",
    "function_call": "tool_call", "call": "tool_call", "tool_use": "tool_call",
    "message": "message", "text": "message", "reply": "message", "answer": "message",
    "response": "message", "cancel": "cancel", "none": "cancel", "noop": "cancel",
}
_ARGS_KEYS = ("arguments", "parameters", "input", "params")
_NAME_KEYS = ("tool", "tool_name", "function")
_CONTENT_KEYS = ("text", "message", "reply", "answer")


@dataclass
class RepairResult:
    """The outcome of a repair pass.

    Attributes:
        envelope: the envelope, or None when the output could not be repaired.
        repairs: short tags of the fixes applied, in order (empty for clean output).
        error: why there is no envelope (None when there is one).
    """

    envelope: ToolCallEnvelope | MessageEnvelope | CancelEnvelope | None
    repairs: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        """True when an envelope was produced."""
        return self.envelope is not None


def repair_envelope(
    text: str, tool_names: Sequence[str] | None = None, aliases: dict[str, str] | None = None
) -> RepairResult:
    """Parse model output into an envelope, repairing what can be repaired.

    Args:
        text: the raw model output.
        tool_names: the known tool names; unknown names close to one of them
            (difflib ratio >= 0.8, or equal after normalizing separators) are
            corrected, others are an error. None skips the name check.
        aliases: other names the model was shown for the tools (the wire names
            of a native tool API), mapped silently to ours.

    Returns:
        A RepairResult; never raises on bad input.
    """
    repairs: list[str] = []
    stripped = text.strip()
    if not stripped:
        return RepairResult(None, repairs, "empty output")
    tagged = _TOOL_CALL_TAG.search(stripped)
    if tagged and tagged.group(1).strip().startswith("{"):
        stripped = tagged.group(1).strip()
        repairs.append("tool_call_tags")
    fenced = _FENCE.search(stripped)
    if fenced and fenced.group(1).strip().startswith("{"):
        stripped = fenced.group(1).strip().rstrip("`").strip()  # a cut-off fence
        repairs.append("fenced_json")
    if stripped.startswith("{{") and stripped.endswith("}}"):
        stripped = stripped[1:-1].strip()
        repairs.append("double_braces")
    if not stripped.startswith("{"):
        start = stripped.find("{")
        if start < 0 or not _looks_like_envelope(stripped[start:]):
            message = MessageEnvelope(content=text.strip())
            return RepairResult(message, [*repairs, "prose_to_message"])
        stripped = stripped[start : stripped.rfind("}") + 1] or stripped[start:]
        repairs.append("extracted_json")
    data, error = parse_json_object(stripped, repairs)
    if data is None:
        return RepairResult(None, repairs, error)
    return envelope_from_dict(data, tool_names, repairs, aliases)


def envelope_from_dict(
    data: dict[str, Any],
    tool_names: Sequence[str] | None,
    repairs: list[str] | None = None,
    aliases: dict[str, str] | None = None,
) -> RepairResult:
    """Normalize a decoded JSON object into an envelope.

    Args:
        data: the decoded object.
        tool_names: known tool names (None: any name is accepted).
        repairs: repairs already applied (appended to).
        aliases: ``{name the model saw: our name}``, mapped without a repair tag.

    Returns:
        A RepairResult.
    """
    repairs = repairs if repairs is not None else []
    data = dict(data)
    kind = _normalize_type(data, repairs)
    if kind is None:
        return RepairResult(None, repairs, f"cannot tell the envelope type of {_preview(data)}")
    data["type"] = kind
    if kind == "tool_call":
        error = _normalize_tool_call(data, tool_names, repairs, aliases or {})
        if error:
            return RepairResult(None, repairs, error)
    elif kind == "message":
        _normalize_message(data, repairs)
    try:
        envelope = ENVELOPE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return RepairResult(None, repairs, f"invalid envelope at {where}: {first['msg']}")
    return RepairResult(envelope, repairs)


def _looks_like_envelope(text: str) -> bool:
    return bool(re.search(r"[\"'](type|name|args|arguments|content)[\"']\s*:", text))


def _normalize_type(data: dict[str, Any], repairs: list[str]) -> str | None:
    raw = data.get("type")
    if isinstance(raw, str):
        kind = _TYPE_ALIASES.get(raw.strip().lower())
        if kind and kind != raw:
            repairs.append(f"type_alias:{raw}")
        if kind:
            return kind
    has_name = any(key in data for key in ("name", *_NAME_KEYS))
    has_args = any(key in data for key in ("args", *_ARGS_KEYS))
    has_content = any(key in data for key in ("content", *_CONTENT_KEYS))
    if has_name and (has_args or not has_content):
        repairs.append("inferred_type:tool_call")
        return "tool_call"
    if has_content:
        repairs.append("inferred_type:message")
        return "message"
    return None


def _normalize_tool_call(
    data: dict[str, Any],
    tool_names: Sequence[str] | None,
    repairs: list[str],
    aliases: dict[str, str],
) -> str | None:
    if isinstance(data.get("function"), dict):  # {"function": {"name":..., "arguments":...}}
        data.update(data.pop("function"))
        repairs.append("unwrapped_function")
    if "name" not in data:
        for key in _NAME_KEYS:
            if isinstance(data.get(key), str):
                data["name"] = data.pop(key)
                repairs.append(f"name_key:{key}")
                break
    if "args" not in data:
        for key in _ARGS_KEYS:
            if key in data:
                data["args"] = data.pop(key)
                repairs.append(f"args_key:{key}")
                break
    for key in (*_ARGS_KEYS, *_NAME_KEYS):
        data.pop(key, None)
    args = data.get("args")
    if args is None:
        data["args"] = {}
    elif isinstance(args, str):
        decoded, error = parse_json_object(args, repairs) if args.strip() else ({}, "")
        if decoded is None:
            return f"args is a string that is not a JSON object: {error}"
        data["args"] = decoded
        repairs.append("args_json_string")
    name = data.get("name")
    if not isinstance(name, str) or not name:
        return "tool_call without a tool name"
    if name in aliases:
        name = data["name"] = aliases[name]
    if tool_names is not None:
        matched = match_tool_name(name, tool_names)
        if matched is None:
            return f"unknown tool {name!r} (known: {', '.join(tool_names) or 'none'})"
        if matched != name:
            repairs.append(f"tool_name:{name}->{matched}")
            data["name"] = matched
    return None


def match_tool_name(name: str, tool_names: Sequence[str]) -> str | None:
    """Find the known tool a (possibly misspelled) name refers to.

    Args:
        name: the name the model used.
        tool_names: the known names.

    Returns:
        The known name, or None when nothing is close enough.
    """
    if name in tool_names:
        return name
    canonical = {_canonical(known): known for known in tool_names}
    if _canonical(name) in canonical:
        return canonical[_canonical(name)]
    close = difflib.get_close_matches(name, list(tool_names), n=1, cutoff=TOOL_NAME_CUTOFF)
    return close[0] if close else None


def _canonical(name: str) -> str:
    return re.sub(r"[._\-/: ]+", ".", name.strip().lower())


def _normalize_message(data: dict[str, Any], repairs: list[str]) -> None:
    if "content" not in data:
        for key in _CONTENT_KEYS:
            if key in data:
                data["content"] = data.pop(key)
                repairs.append(f"content_key:{key}")
                break
    content = data.get("content")
    if content is not None and not isinstance(content, str):
        data["content"] = json.dumps(content)
        repairs.append("content_not_string")
    for key in list(data):
        if key not in ("type", "content"):
            data.pop(key)


def _preview(data: dict[str, Any]) -> str:
    encoded = json.dumps(data)
    return encoded if len(encoded) <= 80 else encoded[:77] + "..."
