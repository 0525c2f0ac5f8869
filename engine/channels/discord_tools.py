"""The ``discord.*`` tools: speak, read, list and (guarded) delete through the tool runtime.

Going through the runtime means every Discord effect is validated, permitted
(``discord.send`` needs the ``external`` scope unlocked, ``discord.delete`` the
``admin`` scope), rate-limited, budgeted (a send spends ``messages_per_hour``
and ``actions_per_hour``), recorded and signalled. The tools find the channel in
the runtime's services under ``"discord"``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.channels.base import Channel
from engine.channels.errors import ChannelError
from engine.policy.runtime import DiscordSection
from engine.tools.registry import Scope, ToolContext, ToolRegistry, ToolSpec

SERVICE = "discord"
SNOWFLAKE = r"^[0-9]{1,20}$"


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SendArgs(_Args):
    channel_id: str = Field(pattern=SNOWFLAKE, description="The Discord channel id.")
    content: str = Field(min_length=1, description="The text; long text is split into parts.")
    dedupe_key: str = Field(
        default="",
        max_length=128,
        description="Calls with the same channel, text and key post once (e.g. a window id).",
    )


class HistoryArgs(_Args):
    channel_id: str = Field(pattern=SNOWFLAKE, description="The Discord channel id.")
    limit: int = Field(ge=1, description="How many messages, newest first.")
    before: str | None = Field(
        default=None, pattern=SNOWFLAKE, description="Only messages older than this id."
    )


class DeleteArgs(_Args):
    channel_id: str = Field(pattern=SNOWFLAKE, description="The Discord channel id.")
    message_id: str = Field(pattern=SNOWFLAKE, description="The message to delete.")


class NoArgs(_Args):
    pass


def _channel(ctx: ToolContext) -> Channel:
    channel = ctx.services.get(SERVICE)
    if channel is None:
        raise ChannelError("Discord is not connected (no bot token configured?)")
    return channel  # type: ignore[no-any-return]


def _tools(policy: DiscordSection) -> list[ToolSpec]:
    timeout = policy.request_timeout_seconds

    def send(args: SendArgs, ctx: ToolContext) -> dict[str, Any]:
        if len(args.content) > policy.send_max_chars:
            raise ChannelError(
                f"text of {len(args.content)} characters is over discord.send_max_chars "
                f"({policy.send_max_chars})"
            )
        ids = _channel(ctx).send(args.channel_id, args.content)
        return {"message_ids": ids, "parts": len(ids)}

    def history(args: HistoryArgs, ctx: ToolContext) -> dict[str, Any]:
        messages = _channel(ctx).history(args.channel_id, args.limit, args.before)
        return {
            "messages": [m.as_dict() for m in messages],
            "next_before": messages[-1].id if len(messages) == args.limit else None,
        }

    def channels(_args: NoArgs, ctx: ToolContext) -> dict[str, Any]:
        return {"channels": [c.as_dict() for c in _channel(ctx).list_channels()]}

    def delete(args: DeleteArgs, ctx: ToolContext) -> dict[str, Any]:
        return {"deleted": _channel(ctx).delete(args.channel_id, args.message_id)}

    return [
        ToolSpec(
            "discord.send",
            "Post a message in a Discord channel (allowlisted channels only).",
            SendArgs,
            Scope.EXTERNAL,
            send,
            timeout_s=timeout,
            needs_service="discord",
            idempotent=False,
            rate_limit_per_minute=policy.send_per_minute,
            counts_as_message=True,
        ),
        ToolSpec(
            "discord.history",
            "Read recent messages of a Discord channel, newest first.",
            HistoryArgs,
            Scope.READ,
            history,
            timeout_s=timeout,
            needs_service="discord",
        ),
        ToolSpec(
            "discord.channels",
            "List the Discord text channels the bot sees, marked allowed or not.",
            NoArgs,
            Scope.READ,
            channels,
            timeout_s=timeout,
            needs_service="discord",
        ),
        ToolSpec(
            "discord.delete",
            "Delete a message in a Discord channel (admin; needs an operator unlock).",
            DeleteArgs,
            Scope.ADMIN,
            delete,
            timeout_s=timeout,
            needs_service="discord",
        ),
    ]


def register_discord_tools(registry: ToolRegistry, policy: DiscordSection) -> None:
    """Add ``discord.send``, ``discord.history``, ``discord.channels`` and ``discord.delete``.

    Args:
        registry: where to add them.
        policy: the ``[discord]`` section (timeouts, send limits).

    Raises:
        ValueError: a tool of the same name is already registered.
    """
    for spec in _tools(policy):
        registry.register(spec)
