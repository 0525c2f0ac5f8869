"""The channel interface: where inputs come from and where the agent speaks.

A channel receives events (messages created, edited, deleted) and hands each to
the ``on_event`` callback given to :meth:`Channel.start`; it sends text, reads
history newest first, lists its channels and deletes messages. Two channels
exist: the local console (:mod:`engine.channels.local`) and Discord
(:mod:`engine.channels.discord_channel`). Every method is synchronous and safe
to call from any thread; a channel runs its own I/O thread when it needs one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from engine.models import NewEvent


@dataclass(frozen=True)
class ChannelEvent:
    """One event a channel received.

    Attributes:
        channel: the channel's name (``"discord"``, ``"local"``).
        event: the event (``discord.message.created`` ...).
        event_id: its id in the event log, or None when the channel has no store
            (then whoever receives it appends it).
        from_self: the agent's own message coming back (never answer it).
    """

    channel: str
    event: NewEvent
    event_id: int | None
    from_self: bool = False


EventCallback = Callable[[ChannelEvent], None]
"""Receives events in the order the channel got them (in the channel's own thread)."""


@dataclass(frozen=True)
class ChannelMessage:
    """A message as read from history."""

    id: str
    channel_id: str
    author_id: str
    author_name: str
    author_is_bot: bool
    content: str
    ts: datetime
    edited_at: datetime | None = None
    from_self: bool = False

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (tool results)."""
        data = asdict(self)
        data["ts"] = self.ts.isoformat()
        data["edited_at"] = self.edited_at.isoformat() if self.edited_at else None
        return data


@dataclass(frozen=True)
class ChannelInfo:
    """A place the channel can speak in."""

    id: str
    name: str
    guild_id: str | None = None
    guild_name: str | None = None
    allowed: bool = True
    """On the policy's allowlist (only allowed channels are read from or written to)."""

    def as_dict(self) -> dict[str, Any]:
        """JSON-safe form (tool results)."""
        return asdict(self)


@runtime_checkable
class Channel(Protocol):
    """A source of inputs and an outlet for speech."""

    @property
    def name(self) -> str:
        """The channel's name (``"local"``, ``"discord"``)."""
        ...

    def start(self, on_event: EventCallback | None = None) -> None:
        """Connect and start delivering events.

        Args:
            on_event: called with each received event, in order.

        Raises:
            ChannelError: the channel cannot start (a subclass says why, e.g.
                ``DiscordAuthError`` for a rejected token).
        """
        ...

    def stop(self) -> None:
        """Disconnect and stop delivering events. Idempotent."""
        ...

    def send(self, channel_id: str, text: str) -> list[str]:
        """Post text, split into several messages when it is too long for one.

        Args:
            channel_id: where.
            text: what (not empty).

        Returns:
            The ids of the posted messages, in order.

        Raises:
            ChannelNotAllowedError: the channel is not allowlisted.
            ChannelError: not connected, refused, or timed out.
        """
        ...

    def history(
        self, channel_id: str, limit: int, before: str | None = None
    ) -> list[ChannelMessage]:
        """Read recent messages, newest first.

        Args:
            channel_id: where.
            limit: at most this many (capped by the channel's policy).
            before: only messages older than this message id (the next page).

        Returns:
            Messages, newest first.

        Raises:
            ChannelNotAllowedError: the channel is not allowlisted.
            ChannelError: not connected, refused, or timed out.
        """
        ...

    def list_channels(self) -> list[ChannelInfo]:
        """The text channels the agent can see, each marked allowed or not.

        Returns:
            Channels in guild and position order.

        Raises:
            ChannelError: not connected, refused, or timed out.
        """
        ...

    def delete(self, channel_id: str, message_id: str) -> bool:
        """Delete one message (callers gate this behind the admin scope).

        Args:
            channel_id: where.
            message_id: which.

        Returns:
            True if it was deleted, False if it did not exist.

        Raises:
            ChannelNotAllowedError: the channel is not allowlisted.
            ChannelError: not connected, refused (no permission), or timed out.
        """
        ...


def split_message(text: str, limit: int) -> list[str]:
    """Split text into parts of at most ``limit`` characters, at line breaks where
    possible, else at spaces, else hard. Whitespace-only parts are dropped (Discord
    refuses empty messages); the break character a split happens at is dropped.

    Args:
        text: what to split.
        limit: the longest part (at least 1).

    Returns:
        The parts, in order (empty when the text is blank).

    Raises:
        ValueError: ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    parts: list[str] = []
    rest = text
    while len(rest) > limit:
        window = rest[: limit + 1]  # a break right after the limit still counts
        cut = window.rfind("\n")
        if cut <= 0:
            cut = window.rfind(" ")
        if cut <= 0:
            parts.append(rest[:limit])
            rest = rest[limit:]
            continue
        parts.append(rest[:cut])
        rest = rest[cut + 1 :]
    parts.append(rest)
    return [part for part in parts if part.strip()]
