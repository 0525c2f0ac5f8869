"""The discord.py side of the Discord channel: the client, its REST calls, its errors.

The only engine module that touches discord.py, and only inside functions:
importing it costs nothing when the ``discord`` extra is not installed or not used.
Coroutines here run on the channel's own event loop (see ``discord_channel``).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol

from engine.channels.base import ChannelInfo, ChannelMessage
from engine.channels.discord_events import Allowlist, channel_message
from engine.channels.discord_token import SecretToken
from engine.channels.errors import (
    ChannelError,
    ChannelNotAllowedError,
    DiscordAuthError,
    DiscordIntentsError,
)
from engine.policy.runtime import DiscordSection

if TYPE_CHECKING:
    import discord

AUTH_FAILED_CLOSE_CODE = 4004


class ClientHooks(Protocol):
    """What the client reports to its owner (all called on the client's loop)."""

    def on_ready(self, self_id: int | None) -> None:
        """A session is ready (after the first connect or a re-identify)."""
        ...

    def on_resumed(self) -> None:
        """A dropped session was resumed."""
        ...

    def on_disconnected(self) -> None:
        """The gateway connection was lost (discord.py reconnects by itself)."""
        ...

    async def on_message(self, message: Any) -> None:
        """MESSAGE_CREATE."""
        ...

    async def on_edit(self, raw: Any) -> None:
        """MESSAGE_UPDATE (a raw event: the message may not be cached)."""
        ...

    async def on_delete(self, raw: Any) -> None:
        """MESSAGE_DELETE (a raw event)."""
        ...


def import_discord() -> Any:
    """The discord module, or a clear error when the extra is not installed.

    Raises:
        ChannelError: discord.py is missing.
    """
    try:
        import discord
    except ImportError as exc:
        raise ChannelError(
            "Discord support is not installed: pip install 'cephalon[discord]'"
        ) from exc
    return discord


def build_client(hooks: ClientHooks, policy: DiscordSection) -> discord.Client:
    """A discord.py client with the intents the channel needs, reporting to ``hooks``.

    Intents: ``guilds`` (channel list, permissions), ``guild_messages`` (message
    events) and the privileged ``message_content``. Mentions are off by default,
    so nothing the agent writes can ping @everyone or a user.

    Args:
        hooks: receives readiness, connection changes and message events.
        policy: the ``[discord]`` section.

    Returns:
        A client, not yet started.
    """
    dpy = import_discord()
    intents = dpy.Intents.none()
    intents.guilds = True
    intents.guild_messages = True
    intents.message_content = True

    client_base: Any = dpy.Client

    class CephalonClient(client_base):  # type: ignore[misc]
        async def before_identify_hook(
            self, shard_id: int | None, *, initial: bool = False
        ) -> None:
            if not initial:  # Discord allows one identify per 5 s
                await asyncio.sleep(policy.reidentify_delay_seconds)

        async def on_ready(self) -> None:
            hooks.on_ready(self.user.id if self.user else None)

        async def on_resumed(self) -> None:
            hooks.on_resumed()

        async def on_disconnect(self) -> None:
            hooks.on_disconnected()

        async def on_message(self, message: Any) -> None:
            await hooks.on_message(message)

        async def on_raw_message_edit(self, raw: Any) -> None:
            await hooks.on_edit(raw)

        async def on_raw_message_delete(self, raw: Any) -> None:
            await hooks.on_delete(raw)

    client: discord.Client = CephalonClient(
        intents=intents,
        guild_ready_timeout=policy.guild_ready_timeout_seconds,
        max_ratelimit_timeout=policy.max_rate_limit_wait_seconds,
        allowed_mentions=dpy.AllowedMentions.none(),
        chunk_guilds_at_startup=False,
        max_messages=None,
    )
    return client


def fatal_error(exc: BaseException, token: SecretToken) -> ChannelError | None:
    """The error to stop with, for failures that retrying cannot fix; None otherwise.

    Args:
        exc: what ``Client.start`` raised.
        token: redacted out of every message.

    Returns:
        ``DiscordAuthError`` for a rejected token (REST 401 or gateway close 4004),
        ``DiscordIntentsError`` for a missing privileged intent, else None.
    """
    dpy = import_discord()
    where = token.source
    if isinstance(exc, dpy.LoginFailure) or (
        isinstance(exc, dpy.ConnectionClosed) and exc.code == AUTH_FAILED_CLOSE_CODE
    ):
        return DiscordAuthError(
            f"Discord rejected the bot token from {where} (401 Unauthorized); "
            "put a valid bot token there (Developer Portal > Bot > Reset Token)"
        )
    if isinstance(exc, dpy.PrivilegedIntentsRequired):
        return DiscordIntentsError(
            "Discord refused the message content intent; enable 'Message Content Intent' "
            "for the bot (Developer Portal > Bot > Privileged Gateway Intents)"
        )
    return None


def request_error(exc: BaseException, token: SecretToken, what: str) -> ChannelError:
    """A REST failure as a one-line channel error.

    Args:
        exc: what discord.py raised.
        token: redacted out of the message.
        what: the operation, for the message ("send to 123").

    Returns:
        The error to raise.
    """
    dpy = import_discord()
    if isinstance(exc, ChannelError):
        return exc
    if isinstance(exc, dpy.Forbidden):
        reason = "the bot lacks a permission there (403 Forbidden)"
    elif isinstance(exc, dpy.NotFound):
        reason = "not found (404)"
    elif isinstance(exc, dpy.RateLimited):
        reason = (
            f"rate limited for {exc.retry_after:.0f}s (over discord.max_rate_limit_wait_seconds)"
        )
    elif isinstance(exc, dpy.HTTPException):
        reason = f"HTTP {exc.status}: {exc.text}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
    return ChannelError(token.redact(f"Discord could not {what}: {reason}"))


async def resolve_channel(client: discord.Client, channel_id: str, allow: Allowlist) -> Any:
    """The messageable guild channel of that id, if the allowlist permits it.

    Raises:
        ChannelNotAllowedError: not allowlisted, or not a guild text channel.
        ChannelError: not a channel id.
    """
    dpy = import_discord()
    if not channel_id.isdigit():
        raise ChannelError(f"not a Discord channel id: {channel_id!r}")
    channel: Any = client.get_channel(int(channel_id))
    if channel is None:
        channel = await client.fetch_channel(int(channel_id))
    guild = getattr(channel, "guild", None)
    guild_id = str(guild.id) if guild is not None else None
    if not allow.allows(guild_id, channel_id):
        raise ChannelNotAllowedError(allow.explain(guild_id, channel_id))
    if not isinstance(channel, dpy.abc.Messageable):
        raise ChannelNotAllowedError(f"channel {channel_id} is not a text channel")
    return channel


async def send_parts(
    client: discord.Client, channel_id: str, parts: list[str], allow: Allowlist
) -> list[str]:
    """Post each part as one message; returns their ids."""
    channel = await resolve_channel(client, channel_id, allow)
    ids: list[str] = []
    for part in parts:
        try:
            message = await channel.send(part)
        except Exception as exc:
            if ids:  # say what already went out: it cannot be taken back silently
                raise ChannelError(
                    f"posted {len(ids)} of {len(parts)} parts ({', '.join(ids)}), then failed: "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            raise
        ids.append(str(message.id))
    return ids


async def read_history(
    client: discord.Client,
    channel_id: str,
    limit: int,
    before: str | None,
    page_size: int,
    allow: Allowlist,
) -> list[ChannelMessage]:
    """Read up to ``limit`` messages newest first, one request per ``page_size``."""
    dpy = import_discord()
    channel = await resolve_channel(client, channel_id, allow)
    self_id = client.user.id if client.user else None
    cursor: Any = dpy.Object(id=int(before)) if before else None
    out: list[ChannelMessage] = []
    while len(out) < limit:
        want = min(page_size, limit - len(out))
        page = [m async for m in channel.history(limit=want, before=cursor)]
        out.extend(channel_message(m, self_id) for m in page)
        if len(page) < want:
            break
        cursor = page[-1]
    return out


async def list_text_channels(client: discord.Client, allow: Allowlist) -> list[ChannelInfo]:
    """Every text channel of every guild the bot is in (fetched fresh), marked allowed."""
    dpy = import_discord()
    infos: list[ChannelInfo] = []
    for guild in sorted(client.guilds, key=lambda g: g.id):
        channels = await guild.fetch_channels()
        texts = [c for c in channels if isinstance(c, dpy.TextChannel)]
        for channel in sorted(texts, key=lambda c: (c.position, c.id)):
            allowed = allow.allows(str(guild.id), str(channel.id))
            infos.append(
                ChannelInfo(str(channel.id), channel.name, str(guild.id), guild.name, allowed)
            )
    return infos


async def delete_message(
    client: discord.Client, channel_id: str, message_id: str, allow: Allowlist
) -> bool:
    """Delete one message; False when it did not exist."""
    dpy = import_discord()
    if not message_id.isdigit():
        raise ChannelError(f"not a Discord message id: {message_id!r}")
    channel = await resolve_channel(client, channel_id, allow)
    try:
        await channel.get_partial_message(int(message_id)).delete()
    except dpy.NotFound:
        return False
    return True
