"""The ``json_v1`` summary format: its schema, the prompt that asks for it, and the checks.

A compaction summary replaces a group of old messages with one structured
record. The model is asked for exactly this JSON object (and, where the
provider supports it, constrained to its schema)::

    {"format": "json_v1",
     "title": "one line: what this stretch of conversation was about",
     "bullets": ["what happened, what was decided, what was learned", ...],
     "topics": ["release planning", ...],
     "participants": ["alice", ...],
     "patterns": [{"pattern": "CI bot posts 'build failed'", "count": 12}, ...]}

How many bullets and patterns are allowed comes from the policy
(``compaction.summary.max_bullets`` / ``max_patterns``); string lengths and the
topic/participant caps are part of the format itself (a change is a new format).
Anything else (not JSON, a truncated answer, a missing or extra field, too many
items) is invalid, and an invalid summary never replaces anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from engine.errors import CephalonError
from engine.llm.base import ChatMessage, ChatOptions, ChatRequest
from engine.llm.json_repair import parse_json_object
from engine.memory.records import Memory
from engine.policy.memory import CompactionSummary

FORMAT: Literal["json_v1"] = "json_v1"
Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)


class CompactionError(CephalonError):
    """A compaction step cannot go on: an invalid summary, a stale or finished plan, no
    provider. The plan it concerns is left ``aborted`` (or untouched if it had ended)."""


class SummaryPattern(BaseModel):
    """Something that kept recurring in the group, and roughly how often."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pattern: Line
    count: int = Field(ge=1, le=1_000_000)


class Summary(BaseModel):
    """A ``json_v1`` compaction summary."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: Literal["json_v1"] = FORMAT
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    bullets: list[Line] = Field(min_length=1)
    topics: list[Name] = Field(default_factory=list, max_length=20)
    participants: list[Name] = Field(default_factory=list, max_length=50)
    patterns: list[SummaryPattern] = Field(default_factory=list)


def summary_schema(policy: CompactionSummary) -> dict[str, Any]:
    """The JSON schema the model must follow, with the policy's item limits.

    Args:
        policy: ``compaction.summary``.

    Returns:
        A JSON schema (``additionalProperties: false`` everywhere).
    """
    schema = Summary.model_json_schema()
    props = schema["properties"]
    props["bullets"]["maxItems"] = policy.max_bullets
    props["patterns"]["maxItems"] = policy.max_patterns
    schema["required"] = sorted({*schema.get("required", []), "format", "bullets", "title"})
    return schema


def check_summary(data: Any, policy: CompactionSummary) -> Summary:
    """Validate a summary object against ``json_v1`` and the policy's limits.

    Args:
        data: the decoded JSON (or a :class:`Summary`).
        policy: ``compaction.summary``.

    Returns:
        The summary.

    Raises:
        CompactionError: it does not validate.
    """
    try:
        summary = data if isinstance(data, Summary) else Summary.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'summary'}: {e['msg']}"
            for e in exc.errors()[:5]
        )
        raise CompactionError(f"summary is not valid {FORMAT}: {problems}") from None
    if len(summary.bullets) > policy.max_bullets:
        raise CompactionError(
            f"summary has {len(summary.bullets)} bullets; at most {policy.max_bullets} allowed"
        )
    if len(summary.patterns) > policy.max_patterns:
        raise CompactionError(
            f"summary has {len(summary.patterns)} patterns; at most {policy.max_patterns} allowed"
        )
    return summary


def parse_summary(text: str, finish_reason: str | None, policy: CompactionSummary) -> Summary:
    """Decode and validate the model's answer.

    Code fences, trailing commas and single quotes are forgiven; an answer cut off
    (finish reason ``length``, or JSON that only parses once closed) is not.

    Args:
        text: the model's text.
        finish_reason: the provider's finish reason.
        policy: ``compaction.summary``.

    Returns:
        The summary.

    Raises:
        CompactionError: the answer is not a complete, valid ``json_v1`` object.
    """
    if finish_reason == "length":
        raise CompactionError("summary was cut off (the model hit its token limit)")
    fenced = _FENCE.match(text)
    body = fenced.group(1) if fenced else text.strip()
    repairs: list[str] = []
    data, error = parse_json_object(body, repairs)
    if data is None:
        raise CompactionError(f"summary is not JSON: {error}")
    if "closed_truncated_json" in repairs:
        raise CompactionError("summary JSON was truncated")
    return check_summary(data, policy)


SYSTEM_PROMPT = """You compact an agent's long-term memory. You are given old messages \
from one conversation (one channel, one day). Write ONE JSON object, nothing else, with:
- "format": "json_v1"
- "title": one line saying what this stretch of conversation was about
- "bullets": at most {max_bullets} short statements of what happened, what was decided, \
asked or learned (facts worth remembering; no filler)
- "topics": the main subjects (short noun phrases)
- "participants": who took part (names or ids as shown)
- "patterns": at most {max_patterns} things that kept recurring (e.g. a bot posting the \
same alert), each {{"pattern": "...", "count": N}}
Only use what the messages say."""


def _line(memory: Memory) -> str:
    who = memory.author_id or memory.source or memory.kind
    if memory.author_is_bot:
        who += " (bot)"
    text = " ".join(memory.content.split())
    return f"[{memory.time.strftime('%H:%M')}] {who} ({memory.kind}): {text}"


def summary_prompt(
    sources: Sequence[Memory], header: str, policy: CompactionSummary
) -> tuple[str, str]:
    """The system and user messages asking for a summary of ``sources``.

    Args:
        sources: the memories, in time order.
        header: what the group is (channel, day).
        policy: ``compaction.summary``.

    Returns:
        (system prompt, user message).
    """
    system = SYSTEM_PROMPT.format(max_bullets=policy.max_bullets, max_patterns=policy.max_patterns)
    lines = "\n".join(_line(m) for m in sources)
    return system, f"{header} ({len(sources)} messages):\n{lines}"


def summary_request(
    sources: Sequence[Memory], header: str, policy: CompactionSummary
) -> ChatRequest:
    """The LLM request for a summary: prompt, ``json_v1`` schema, deterministic sampling.

    Args:
        sources: the memories, in time order.
        header: what the group is (channel, day).
        policy: ``compaction.summary``.

    Returns:
        The request.
    """
    system, user = summary_prompt(sources, header, policy)
    return ChatRequest(
        messages=[
            ChatMessage(role="system", content=system),
            ChatMessage(role="user", content=user),
        ],
        response_schema=summary_schema(policy),
        options=ChatOptions(
            temperature=0.0,
            seed=0,
            max_tokens=policy.max_output_tokens,
            timeout_s=policy.timeout_seconds,
        ),
    )


def render_summary(
    summary: Summary, header: str, count: int, start: datetime, end: datetime
) -> str:
    """The text of a summary memory: what search and the model read.

    Args:
        summary: the summary.
        header: what the group was (channel, day).
        count: how many memories it replaced.
        start: time of the first of them.
        end: time of the last.

    Returns:
        Readable text (title, bullets, topics, participants, patterns).
    """
    span = f"{start.strftime('%Y-%m-%d %H:%M')}-{end.strftime('%H:%M')} UTC"
    parts = [f"Summary of {header}, {count} messages, {span}: {summary.title}"]
    parts += [f"- {bullet}" for bullet in summary.bullets]
    if summary.topics:
        parts.append("Topics: " + ", ".join(summary.topics))
    if summary.participants:
        parts.append("Participants: " + ", ".join(summary.participants))
    if summary.patterns:
        parts.append(
            "Recurring: " + "; ".join(f"{p.pattern} (x{p.count})" for p in summary.patterns)
        )
    return "\n".join(parts)


def summary_json(summary: Summary) -> str:
    """The summary as stored (compact, stable key order)."""
    return json.dumps(summary.model_dump(mode="json"), sort_keys=True)
