"""The Discord channel: Cephalon's presence on Discord, through discord.py.

``start`` connects (on the client's own thread and event loop, see
:mod:`engine.channels.discord_runner`) and returns once the gateway is ready, or
raises one clear error; a rejected token is never retried. Gateway events in
allowlisted channels become ``discord.message.created/edited/deleted`` events,
appended to the event log and handed to ``on_event`` in order, on a delivery
thread so the gateway loop never waits on the database.
``send``/``history``/``list_channels``/``delete`` are synchronous and may be
called from any thread; discord.py waits out 429s (up to
``discord.max_rate_limit_wait_seconds``) and resumes a dropped gateway by
itself. discord.py is imported only when the channel starts.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from typing import Any

import structlog

from engine.channels import discord_client as dc
from engine.channels.base import ChannelEvent, ChannelInfo, ChannelMessage, EventCallback
from engine.channels.base import split_message as split_text
from engine.channels.discord_events import (
    Allowlist,
    created_event,
    deleted_event,
    edited_event,
    guild_id_of,
)
from engine.channels.discord_runner import ClientRunner
from engine.channels.discord_token import SecretToken
from engine.channels.errors import ChannelError
from engine.clock import Clock, SystemClock
from engine.models import NewEvent
from engine.policy.runtime import DiscordSection
from engine.store import EventLog, Store

log = structlog.get_logger("cephalon.discord")


class DiscordChannel:
    """A :class:`engine.channels.base.Channel` on Discord (see the module docstring)."""

    def __init__(
        self,
        token: SecretToken,
        policy: DiscordSection,
        *,
        store: Store | None = None,
        clock: Clock | None = None,
    ) -> None:
        """Create the channel (nothing connects until :meth:`start`).

        Args:
            token: the bot token (see :func:`engine.channels.discord_token.load_token`).
            policy: the ``[discord]`` policy section.
            store: where received events are appended (None: only ``on_event`` sees them).
            clock: time of deletions (Discord gives none).
        """
        self.policy = policy
        self.allowlist = Allowlist.from_policy(policy)
        self._runner = ClientRunner(token, policy, self)
        self._events = EventLog(store) if store is not None else None
        self._clock = clock or SystemClock()
        self._on_event: EventCallback | None = None
        self._delivery: concurrent.futures.ThreadPoolExecutor | None = None
        self._received = 0

    @property
    def name(self) -> str:
        """``"discord"``."""
        return "discord"

    @property
    def state(self) -> str:
        """``stopped``, ``starting``, ``ready``, ``reconnecting`` or ``failed``."""
        return self._runner.state

    def status(self) -> dict[str, Any]:
        """State, connection counters, events received and the last error (redacted)."""
        runner = self._runner
        return {
            "state": runner.state,
            **runner.counts,
            "events": self._received,
            "last_error": runner.last_error,
        }

    def start(self, on_event: EventCallback | None = None) -> None:
        """Connect; return when the gateway is ready (see :meth:`Channel.start`).

        Raises:
            DiscordAuthError: the token was rejected (exit code 4); nothing is retried.
            DiscordIntentsError: the message content intent is not enabled for the bot.
            DiscordUnavailableError: not ready within ``discord.ready_timeout_seconds``
                or after ``discord.reconnect.attempts`` restarts (exit code 5).
            ChannelError: already started, or discord.py is not installed.
        """
        self._on_event = on_event
        self._delivery = concurrent.futures.ThreadPoolExecutor(1, "cephalon-discord-events")
        try:
            self._runner.start()
        except BaseException:
            self._stop_delivery()
            raise

    def stop(self) -> None:
        """Disconnect and deliver what was already received. Idempotent."""
        self._runner.stop()
        self._stop_delivery()

    def _stop_delivery(self) -> None:
        delivery, self._delivery = self._delivery, None
        if delivery is not None:
            delivery.shutdown(wait=True)

    # -- events (on the client's loop) --------------------------------------------------

    async def on_message(self, message: Any) -> None:
        """MESSAGE_CREATE."""
        if self.allowlist.allows(guild_id_of(message), str(message.channel.id)):
            await self._deliver(created_event(message, self._runner.self_id))

    async def on_edit(self, raw: Any) -> None:
        """MESSAGE_UPDATE."""
        guild_id = None if raw.guild_id is None else str(raw.guild_id)
        if self.allowlist.allows(guild_id, str(raw.channel_id)):
            await self._deliver(edited_event(raw, self._runner.self_id, self._clock.now()))

    async def on_delete(self, raw: Any) -> None:
        """MESSAGE_DELETE."""
        guild_id = None if raw.guild_id is None else str(raw.guild_id)
        if self.allowlist.allows(guild_id, str(raw.channel_id)):
            await self._deliver(deleted_event(raw, self._runner.self_id, self._clock.now()))

    async def _deliver(self, event: NewEvent) -> None:
        delivery = self._delivery
        if delivery is None:
            return
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(delivery, self._append_and_notify, event)

    def _append_and_notify(self, event: NewEvent) -> None:
        try:
            event_id = self._events.append(event) if self._events is not None else None
            self._received += 1
            from_self = bool(event.payload.get("from_self"))
            if self._on_event is not None:
                self._on_event(ChannelEvent(self.name, event, event_id, from_self))
        except Exception as exc:  # one bad event must not stop the channel
            log.error("discord.event_failed", type=event.type.value, error=repr(exc))

    # -- calls from any thread ----------------------------------------------------------

    def send(self, channel_id: str, text: str) -> list[str]:
        """Post text, split at ``discord.split_chars`` (see :meth:`Channel.send`)."""
        parts = split_text(text, self.policy.split_chars)
        if not parts:
            raise ChannelError("nothing to send: the text is blank")
        allow = self.allowlist
        return self._runner.call(
            f"send to {channel_id}", lambda c: dc.send_parts(c, channel_id, parts, allow)
        )

    def history(
        self, channel_id: str, limit: int, before: str | None = None
    ) -> list[ChannelMessage]:
        """Newest first, one request per ``discord.history_page_size`` messages, at most
        ``discord.history_max_messages`` (see :meth:`Channel.history`)."""
        if before is not None and not before.isdigit():
            raise ChannelError(f"not a Discord message id: {before!r}")
        count = max(0, min(limit, self.policy.history_max_messages))
        page, allow = self.policy.history_page_size, self.allowlist
        return self._runner.call(
            f"read history of {channel_id}",
            lambda c: dc.read_history(c, channel_id, count, before, page, allow),
        )

    def list_channels(self) -> list[ChannelInfo]:
        """Text channels of every guild the bot is in (see :meth:`Channel.list_channels`)."""
        allow = self.allowlist
        return self._runner.call("list channels", lambda c: dc.list_text_channels(c, allow))

    def delete(self, channel_id: str, message_id: str) -> bool:
        """Delete one message (see :meth:`Channel.delete`); gate it with the admin scope."""
        allow = self.allowlist
        return self._runner.call(
            f"delete {message_id} in {channel_id}",
            lambda c: dc.delete_message(c, channel_id, message_id, allow),
        )
