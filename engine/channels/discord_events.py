"""Discord messages as Cephalon events and history entries, and the allowlist.

These functions read attributes of discord.py objects (``Message``,
``RawMessageUpdateEvent``, ``RawMessageDeleteEvent``) without importing
discord, so they stay importable, and testable, without the optional extra.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from engine.channels.base import ChannelMessage
from engine.models import EventType, NewEvent
from engine.policy.runtime import DiscordSection

SOURCE = "discord"


@dataclass(frozen=True)
class Allowlist:
    """Where the bot may read and act: guilds, and optionally channels inside them."""

    guilds: frozenset[str]
    channels: frozenset[str]

    @classmethod
    def from_policy(cls, policy: DiscordSection) -> Allowlist:
        """The allowlist of the ``[discord]`` policy section."""
        return cls(frozenset(policy.guild_allowlist), frozenset(policy.channel_allowlist))

    def allows(self, guild_id: str | None, channel_id: str) -> bool:
        """True when the channel is in an allowlisted guild (and allowlisted, if channels
        are listed). Direct messages (no guild) are never allowed."""
        if guild_id is None or guild_id not in self.guilds:
            return False
        return not self.channels or channel_id in self.channels

    def explain(self, guild_id: str | None, channel_id: str) -> str:
        """Why a channel is refused, naming the policy key to change."""
        if guild_id is None:
            return f"channel {channel_id} is not in a guild (direct messages are never allowed)"
        if guild_id not in self.guilds:
            return f"guild {guild_id} is not in discord.guild_allowlist"
        return f"channel {channel_id} is not in discord.channel_allowlist"


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def guild_id_of(message: Any) -> str | None:
    """The guild id of a message (None in direct messages)."""
    guild = getattr(message, "guild", None)
    if guild is not None:
        return str(guild.id)
    return _id(getattr(message, "guild_id", None))


def channel_message(message: Any, self_id: int | None) -> ChannelMessage:
    """A discord.py ``Message`` as a history entry.

    Args:
        message: the message.
        self_id: the bot's user id (marks its own messages).

    Returns:
        The entry.
    """
    author = message.author
    edited: datetime | None = message.edited_at
    return ChannelMessage(
        id=str(message.id),
        channel_id=str(message.channel.id),
        author_id=str(author.id),
        author_name=str(getattr(author, "display_name", None) or author.name),
        author_is_bot=bool(author.bot),
        content=str(message.content or ""),
        ts=message.created_at,
        edited_at=edited,
        from_self=self_id is not None and author.id == self_id,
    )


def _payload(entry: ChannelMessage, message: Any) -> dict[str, Any]:
    reference = getattr(message, "reference", None)
    return {
        "content": entry.content,
        "message_id": entry.id,
        "guild_id": guild_id_of(message),
        "channel_name": getattr(message.channel, "name", None),
        "author_name": entry.author_name,
        "from_self": entry.from_self,
        "attachments": len(getattr(message, "attachments", None) or []),
        "reply_to": _id(getattr(reference, "message_id", None)),
    }


def created_event(message: Any, self_id: int | None) -> NewEvent:
    """``discord.message.created`` for a new message."""
    entry = channel_message(message, self_id)
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_CREATED,
        source=SOURCE,
        ts=entry.ts,
        channel_id=entry.channel_id,
        author_id=entry.author_id,
        author_is_bot=entry.author_is_bot,
        payload=_payload(entry, message),
    )


def edited_event(raw: Any, self_id: int | None, now: datetime) -> NewEvent:
    """``discord.message.edited`` from a raw edit (discord.py 2.5+ carries the new message)."""
    entry = channel_message(raw.message, self_id)
    payload = _payload(entry, raw.message)
    payload["edited_at"] = entry.edited_at.isoformat() if entry.edited_at else None
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_EDITED,
        source=SOURCE,
        ts=entry.edited_at or now,
        channel_id=entry.channel_id,
        author_id=entry.author_id,
        author_is_bot=entry.author_is_bot,
        payload=payload,
    )


def deleted_event(raw: Any, self_id: int | None, now: datetime) -> NewEvent:
    """``discord.message.deleted``; the author is known only when the message was cached."""
    cached = getattr(raw, "cached_message", None)
    author = getattr(cached, "author", None)
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_DELETED,
        source=SOURCE,
        ts=now,
        channel_id=str(raw.channel_id),
        author_id=_id(getattr(author, "id", None)),
        author_is_bot=bool(getattr(author, "bot", False)),
        payload={
            "message_id": str(raw.message_id),
            "guild_id": _id(raw.guild_id),
            "from_self": author is not None and self_id is not None and author.id == self_id,
        },
    )
