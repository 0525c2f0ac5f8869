"""Discord API objects as JSON, the shapes discord.py 2.x parses (users, guilds, messages).

Kept apart from the server so the server module reads as protocol only.
Ids are snowflakes: ``(ms since the Discord epoch) << 22 | counter``, so they sort by
creation time and discord.py derives ``created_at`` from them.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000
TEXT_CHANNEL = 0


class Snowflakes:
    """Increasing snowflake ids (thread-safe)."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)
        self._lock = threading.Lock()
        self._last = 0

    def next(self) -> str:
        """A new id, greater than every earlier one."""
        with self._lock:
            ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
            value = max((ms << 22) | (next(self._counter) & 0xFFF), self._last + 1)
            self._last = value
            return str(value)


def user(user_id: str, name: str, *, bot: bool = False) -> dict[str, Any]:
    """A user object."""
    return {
        "id": user_id,
        "username": name,
        "global_name": name,
        "discriminator": "0",
        "avatar": None,
        "bot": bot,
        "public_flags": 0,
    }


def application(app_id: str, owner: dict[str, Any]) -> dict[str, Any]:
    """The bot's application (``GET /oauth2/applications/@me``)."""
    return {
        "id": app_id,
        "name": "cephalon-test",
        "description": "",
        "icon": None,
        "bot_public": False,
        "bot_require_code_grant": False,
        "owner": owner,
        "verify_key": "0" * 64,
        "flags": 0,
        "team": None,
    }


@dataclass
class FakeChannel:
    """A text channel and its messages (oldest first)."""

    id: str
    guild_id: str
    name: str
    position: int
    messages: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The channel object."""
        return {
            "id": self.id,
            "type": TEXT_CHANNEL,
            "guild_id": self.guild_id,
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": False,
            "topic": None,
            "last_message_id": self.messages[-1]["id"] if self.messages else None,
            "rate_limit_per_user": 0,
            "parent_id": None,
        }


@dataclass
class FakeGuild:
    """A guild with text channels."""

    id: str
    name: str
    channels: list[FakeChannel] = field(default_factory=list)

    def as_json(self, bot: dict[str, Any]) -> dict[str, Any]:
        """The GUILD_CREATE payload (the bot is the only member sent)."""
        return {
            "id": self.id,
            "name": self.name,
            "icon": None,
            "owner_id": bot["id"],
            "unavailable": False,
            "member_count": 2,
            "large": False,
            "features": [],
            "roles": [
                {
                    "id": self.id,
                    "name": "@everyone",
                    "permissions": str((1 << 10) | (1 << 11) | (1 << 16)),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "channels": [channel.as_json() for channel in self.channels],
            "threads": [],
            "members": [
                {
                    "user": bot,
                    "roles": [],
                    "joined_at": iso(datetime.now(UTC)),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "joined_at": iso(datetime.now(UTC)),
            "premium_tier": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
        }


def iso(moment: datetime) -> str:
    """An ISO-8601 timestamp as Discord writes it."""
    return moment.astimezone(UTC).isoformat()


def message(
    message_id: str,
    channel: FakeChannel,
    author: dict[str, Any],
    content: str,
    *,
    edited: bool = False,
) -> dict[str, Any]:
    """A message object (MESSAGE_CREATE/UPDATE and REST)."""
    ms = (int(message_id) >> 22) + DISCORD_EPOCH_MS
    created = datetime.fromtimestamp(ms / 1000, UTC)
    return {
        "id": message_id,
        "channel_id": channel.id,
        "guild_id": channel.guild_id,
        "author": author,
        "content": content,
        "timestamp": iso(created),
        "edited_timestamp": iso(datetime.now(UTC)) if edited else None,
        "tts": False,
        "mention_everyone": False,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "pinned": False,
        "type": 0,
        "flags": 0,
    }
