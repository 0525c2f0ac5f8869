"""Pydantic models shared by the engine, the CLI and the UI."""

from __future__ import annotations

import hashlib
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EventType(StrEnum):
    """The canonical event types. Every input and every effect is one of these."""

    DISCORD_MESSAGE_CREATED = "discord.message.created"
    DISCORD_MESSAGE_EDITED = "discord.message.edited"
    DISCORD_MESSAGE_DELETED = "discord.message.deleted"
    LOCAL_MESSAGE_CREATED = "local.message.created"
    TOOL_CALL = "tool.call"
    TOOL_RESULT = "tool.result"
    LLM_ASSISTANT_MESSAGE = "llm.assistant.message"
    LLM_THINK_TRACE = "llm.think.trace"
    SYSTEM_TICK = "system.tick"
    ADMIN_COMMAND = "admin.command"
    MEMORY_SUMMARY_CREATED = "memory.summary.created"
    MEMORY_COMPACTION_DELETED = "memory.compaction.deleted"


def content_hash(text: str) -> str:
    """The sha256 hex digest of a text (the events table's ``content_hash``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class NewEvent(BaseModel):
    """An event about to be appended (it has no id yet)."""

    model_config = ConfigDict(frozen=True)

    type: EventType
    source: str
    """Where it came from: ``operator``, ``discord``, ``engine``, ``job:<name>``, ..."""
    ts: datetime
    channel_id: str | None = None
    author_id: str | None = None
    author_is_bot: bool = False
    payload: dict[str, Any] = Field(default_factory=dict)
    content: str | None = None
    """The text the content hash is computed from (usually ``payload['content']``)."""

    def hash(self) -> str | None:
        """The content hash, or None when the event carries no text."""
        text = self.content if self.content is not None else self.payload.get("content")
        return content_hash(text) if isinstance(text, str) else None


class Event(BaseModel):
    """An event as stored: append-only, identified by a monotonically increasing id."""

    model_config = ConfigDict(frozen=True)

    id: int
    ts: datetime
    type: str
    source: str
    channel_id: str | None
    author_id: str | None
    author_is_bot: bool
    payload: dict[str, Any]
    content_hash: str | None
