"""Wiring the Discord channel into an engine: open it when a token is configured, and
turn its events into attention candidates.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import structlog

from engine.channels.base import ChannelEvent, EventCallback
from engine.channels.discord_channel import DiscordChannel
from engine.channels.discord_token import load_token
from engine.clock import Clock
from engine.models import EventType
from engine.pipeline.intake import Intake
from engine.policy import Policy
from engine.store import Store

log = structlog.get_logger("cephalon.discord")


def open_discord(
    home: Path,
    policy: Policy,
    store: Store,
    clock: Clock,
    on_event: EventCallback | None = None,
) -> DiscordChannel | None:
    """Start the Discord channel if a bot token is configured.

    Args:
        home: the data dir (``secrets/discord_token`` is looked for there).
        policy: the effective policy (its ``[discord]`` section is used).
        store: where received events are appended.
        clock: time source.
        on_event: receives each event after it is stored.

    Returns:
        The started channel, or None when no token is configured.

    Raises:
        DiscordAuthError: the token was rejected (exit code 4; never retried).
        DiscordIntentsError: the message content intent is not enabled (exit code 4).
        DiscordUnavailableError: Discord could not be reached (exit code 5).
        SecretFileError: the token file is readable by others, unreadable or empty.
    """
    token = load_token(home)
    if token is None:
        log.info("discord.off", reason="no token configured")
        return None
    if not policy.discord.guild_allowlist:
        log.warning("discord.no_guilds", hint="set discord.guild_allowlist in the policy")
    channel = DiscordChannel(token, policy.discord, store=store, clock=clock)
    channel.start(on_event)
    return channel


def intake_handler(intake: Intake, wake: Callable[[], None] | None = None) -> EventCallback:
    """An ``on_event`` that queues new human messages for attention.

    The agent's own messages, other bots' messages (recorded as events for the
    janitor), edits and deletions are not inputs. The event the channel already
    stored is reused, so nothing is appended twice.

    Args:
        intake: the engine's intake.
        wake: called after queueing (wakes the always-on loop).

    Returns:
        The callback.
    """

    def handle(received: ChannelEvent) -> None:
        event = received.event
        if received.from_self or event.author_is_bot:
            return
        if event.type is not EventType.DISCORD_MESSAGE_CREATED:
            return
        text = str(event.payload.get("content") or "")
        if not text.strip():
            return
        intake.submit(
            text,
            source="channel",
            channel_id=event.channel_id,
            author_id=event.author_id,
            event_type=event.type,
            event_id=received.event_id,
        )
        if wake is not None:
            wake()

    return handle
