"""What can go wrong with a channel, as user-facing errors (one line, an exit code)."""

from __future__ import annotations

from engine.errors import CephalonError


class ChannelError(CephalonError):
    """A channel cannot do what was asked (not connected, refused, timed out)."""


class ChannelNotAllowedError(ChannelError):
    """The guild or channel is not on the policy's allowlist."""


class DiscordAuthError(ChannelError):
    """Discord rejected the bot token. Retrying cannot help, so it is never retried."""

    exit_code = 4


class DiscordIntentsError(ChannelError):
    """The bot asked for a privileged intent (message content) not enabled for it."""

    exit_code = 4


class DiscordUnavailableError(ChannelError):
    """Discord could not be reached after the policy's reconnect attempts."""

    exit_code = 5


class SecretFileError(ChannelError):
    """The token's secrets file is unsafe (readable by others) or unreadable."""
