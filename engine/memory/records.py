"""Memory records as the engine sees them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class NewMemory(BaseModel):
    """A memory about to be stored."""

    model_config = ConfigDict(frozen=True)

    kind: str
    content: str
    normalized_content: str | None = None
    source: str | None = None
    channel_id: str | None = None
    author_id: str | None = None
    author_is_bot: bool = False
    source_meta: dict[str, Any] = Field(default_factory=dict)
    event_ids: list[int] = Field(default_factory=list)
    event_ts: datetime | None = None
    """When what it remembers happened (defaults to the time it is stored)."""
    immutable: bool = False
    pinned: bool = False
    source_tag: str = "operator"
    source_confidence: float = 1.0
    fingerprints: dict[str, Any] | None = None
    tags: list[str] = Field(default_factory=list)
    embed: bool = True
    """Whether to embed it (minting rules decide; tool calls and tombstones are not)."""


class Memory(BaseModel):
    """A stored memory with everything retrieval and GC need."""

    model_config = ConfigDict(frozen=True)

    id: int
    kind: str
    content: str
    normalized_content: str | None
    source: str | None
    channel_id: str | None
    author_id: str | None
    author_is_bot: bool
    source_meta: dict[str, Any]
    event_ids: list[int]
    created_at: datetime
    updated_at: datetime
    event_ts: datetime | None
    last_included_at: datetime | None
    access_timestamps: list[float]
    included_count_decay: float
    alpha: float
    beta: float
    pinned: bool
    locked_by_admin: bool
    locked_by_system: bool
    deleted: bool
    immutable: bool
    source_tag: str
    source_confidence: float
    compressed: bool
    embed_model: str | None
    fingerprints: dict[str, Any] | None
    tags: list[str]

    @property
    def time(self) -> datetime:
        """The time the memory is about: its event time, else when it was stored."""
        return self.event_ts or self.created_at
