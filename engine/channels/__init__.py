"""Channels: where inputs come from and where the agent speaks.

:class:`Channel` is the interface; :class:`LocalChannel` is the operator's
console; ``engine.channels.discord_channel.DiscordChannel`` is Discord (through
discord.py, imported only when it starts). ``engine.channels.discord_tools``
registers the ``discord.*`` tools.
"""

from engine.channels.base import (
    Channel,
    ChannelEvent,
    ChannelInfo,
    ChannelMessage,
    EventCallback,
    split_message,
)
from engine.channels.errors import (
    ChannelError,
    ChannelNotAllowedError,
    DiscordAuthError,
    DiscordIntentsError,
    DiscordUnavailableError,
    SecretFileError,
)
from engine.channels.local import LocalChannel

__all__ = [
    "Channel",
    "ChannelError",
    "ChannelEvent",
    "ChannelInfo",
    "ChannelMessage",
    "ChannelNotAllowedError",
    "DiscordAuthError",
    "DiscordIntentsError",
    "DiscordUnavailableError",
    "EventCallback",
    "LocalChannel",
    "SecretFileError",
    "split_message",
]
