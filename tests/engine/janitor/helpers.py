"""Event helpers for the janitor tests."""

from __future__ import annotations

from datetime import datetime

from engine.models import EventType, NewEvent


def message(
    ts: datetime,
    text: str,
    *,
    bot: bool = True,
    channel: str = "c1",
    author: str = "b1",
    name: str = "ci-bot",
) -> NewEvent:
    """A ``discord.message.created`` event as the importer writes it."""
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_CREATED,
        source="discord-export",
        ts=ts,
        channel_id=channel,
        author_id=author,
        author_is_bot=bot,
        payload={"content": text, "author_name": name, "channel_name": "general"},
    )
