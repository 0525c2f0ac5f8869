"""Minting rules: which events become memories, and which memories are embedded.

Every event is logged; only some become memories (the contract's minting matrix):

| event                          | memory            | embedded                         |
|--------------------------------|-------------------|----------------------------------|
| message from a human           | ``message``       | yes                              |
| message from a bot             | unless duplicate  | only if the channel allows it    |
| message edited                 | link to original  | no (not re-embedded)             |
| message deleted                | original deleted  | -                                |
| tool.call                      | ``tool_call``     | no (audit only)                  |
| tool.result                    | ``tool_result``   | only if it carries knowledge     |
| llm.assistant.message          | ``assistant_message`` | yes                          |
| llm.think.trace                | by policy, low confidence | no                       |
| admin.command                  | ``admin``         | no                               |
| system.tick                    | only if it led to an action | no                     |
| memory.summary.created         | ``summary``       | yes                              |
| memory.compaction.deleted      | ``tombstone``     | never                            |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from engine.models import Event, EventType
from engine.policy import Policy

Action = Literal["mint", "link", "delete", "skip"]
MESSAGE_EVENTS = {
    EventType.DISCORD_MESSAGE_CREATED.value,
    EventType.LOCAL_MESSAGE_CREATED.value,
}


@dataclass(frozen=True)
class MintDecision:
    """What to do with one event."""

    action: Action
    kind: str = ""
    embed: bool = False
    confidence: float = 1.0
    reason: str = ""


def _text(event: Event) -> str:
    content = event.payload.get("content")
    if isinstance(content, str) and content.strip():
        return content
    embed = event.payload.get("embed_text")  # a bot message that is all embed
    if isinstance(embed, str) and embed.strip():
        return embed
    if isinstance(content, str):
        return content
    if "result" in event.payload:
        result = event.payload["result"]
        return result if isinstance(result, str) else json.dumps(result, sort_keys=True)
    return ""


def _knowledge_bearing(event: Event, policy: Policy) -> bool:
    flagged = event.payload.get("knowledge")
    if isinstance(flagged, bool):
        return flagged
    text = _text(event).strip()
    if len(text) < policy.minting.tool_result_min_chars:
        return False
    try:
        parsed: Any = json.loads(text)
    except ValueError:
        return True  # prose
    return isinstance(parsed, dict | list) and any(
        isinstance(v, str) and len(v) >= policy.minting.tool_result_min_chars
        for v in (parsed.values() if isinstance(parsed, dict) else parsed)
    )


def decide(event: Event, policy: Policy, *, duplicate: bool = False) -> MintDecision:
    """Apply the minting matrix to one event.

    Args:
        event: the stored event.
        policy: channel policies and minting settings.
        duplicate: the dedupe stage found it an exact or near duplicate.

    Returns:
        The decision, with a reason for the log.
    """
    kind = event.type
    if kind in MESSAGE_EVENTS:
        if not _text(event).strip():
            return MintDecision("skip", reason="empty message")
        if not event.author_is_bot:
            return MintDecision("mint", "message", embed=True, reason="human message")
        channel = policy.channel(event.channel_id)
        if duplicate and not channel.embed_raw_bot_messages:
            return MintDecision("skip", reason="bot duplicate (counted in its aggregate)")
        embed = channel.embed_raw_bot_messages and not duplicate
        return MintDecision(
            "mint",
            "message",
            embed=embed,
            confidence=policy.minting.bot_message_confidence,
            reason="bot message" + ("" if embed else ", not embedded by channel"),
        )
    if kind == EventType.DISCORD_MESSAGE_EDITED.value:
        return MintDecision("link", reason="edit linked to the original; not re-embedded")
    if kind == EventType.DISCORD_MESSAGE_DELETED.value:
        return MintDecision("delete", reason="message deleted")
    if kind == EventType.TOOL_CALL.value:
        return MintDecision("mint", "tool_call", reason="audit only")
    if kind == EventType.TOOL_RESULT.value:
        knowledge = _knowledge_bearing(event, policy)
        return MintDecision(
            "mint",
            "tool_result",
            embed=knowledge,
            reason="knowledge-bearing" if knowledge else "not knowledge",
        )
    if kind == EventType.LLM_ASSISTANT_MESSAGE.value:
        if not _text(event).strip():
            return MintDecision("skip", reason="empty reply")
        return MintDecision("mint", "assistant_message", embed=True, reason="assistant reply")
    if kind == EventType.LLM_THINK_TRACE.value:
        if not policy.minting.think_traces:
            return MintDecision("skip", reason="think traces off by policy")
        return MintDecision(
            "mint",
            "think_trace",
            confidence=policy.minting.think_trace_confidence,
            reason="think trace, low weight",
        )
    if kind == EventType.ADMIN_COMMAND.value:
        return MintDecision("mint", "admin", reason="admin commands are always kept")
    if kind == EventType.SYSTEM_TICK.value:
        if event.payload.get("led_to_action"):
            return MintDecision("mint", "tick", reason="tick that led to an action")
        return MintDecision("skip", reason="idle tick")
    if kind == EventType.MEMORY_SUMMARY_CREATED.value:
        return MintDecision("mint", "summary", embed=True, reason="summaries are high signal")
    if kind == EventType.MEMORY_COMPACTION_DELETED.value:
        return MintDecision("mint", "tombstone", reason="tombstone, never embedded")
    return MintDecision("skip", reason=f"no minting rule for {kind}")


def memory_text(event: Event) -> str:
    """The text a memory minted from ``event`` holds."""
    text = _text(event)
    if event.type == EventType.TOOL_CALL.value:
        args = json.dumps(event.payload.get("args", {}), sort_keys=True)
        return f"{event.payload.get('tool', '?')}({args})"
    if event.type == EventType.ADMIN_COMMAND.value and not text:
        return json.dumps(event.payload, sort_keys=True)
    return text or json.dumps(event.payload, sort_keys=True)
