"""The golden path: summarize the configured Discord channels on a schedule.

Each run: list the channels, read the last ``jobs.golden_path_history`` messages
of every channel to summarize (``discord.summary.channel_ids``, or every
allowlisted one), write a short summary (the model's prose when a provider is
configured, else an extractive one), post it through the ``discord.send`` tool
(so permissions, rate limits and the hourly budgets hold) and store a
``channel_summary`` memory with the active topics and notable users.

The inputs fingerprint is a hash of the message ids (and edit times) it would
read, the agent's own posts left out, so a run over unchanged channels is
skipped by the scheduler without calling the model. A repeated run over the same
messages passes the same ``dedupe_key`` to ``discord.send``, so it never posts
the same window twice.
"""

from __future__ import annotations

import hashlib
from typing import Any

import structlog

from engine.channels.base import Channel, ChannelInfo, ChannelMessage
from engine.channels.errors import ChannelError
from engine.costs import CostLedger
from engine.jobs.base import JobContext, SkipRun
from engine.jobs.channel_digest import Digest, build_digest
from engine.memory.records import NewMemory
from engine.policy import Policy
from engine.tools.budgets import BudgetLedger
from engine.tools.registry import SourceTag

log = structlog.get_logger("cephalon.jobs.golden_path")

MEMORY_KIND = "channel_summary"
SEND_TOOL = "discord.send"


def _digest_key(channel_id: str, messages: list[ChannelMessage]) -> str:
    text = channel_id + ":" + ",".join(f"{m.id}/{m.edited_at}" for m in messages)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class GoldenPathJob:
    """Channel summaries, posted and remembered (see the module docstring)."""

    name = "golden_path"

    def __init__(self, channel_name: str = "discord") -> None:
        """Create the job.

        Args:
            channel_name: which of ``JobContext.channels`` to summarize.
        """
        self.channel_name = channel_name

    def interval_seconds(self, policy: Policy) -> float:
        """``jobs.golden_path_interval_minutes``, in seconds."""
        return policy.jobs.golden_path_interval_minutes * 60

    # -- reading ------------------------------------------------------------------------

    def _channel(self, ctx: JobContext) -> Channel:
        channel = ctx.channels.get(self.channel_name)
        if channel is None:
            raise SkipRun(f"no {self.channel_name} channel is connected")
        return channel  # type: ignore[no-any-return]

    def _targets(self, ctx: JobContext, channel: Channel) -> tuple[list[ChannelInfo], int]:
        listed = channel.list_channels()
        wanted = set(ctx.policy.discord.summary.channel_ids)
        targets = [c for c in listed if c.allowed and (not wanted or c.id in wanted)]
        if not targets:
            raise SkipRun("no allowlisted channel to summarize (see discord.guild_allowlist)")
        return targets, len(listed)

    def _read(self, ctx: JobContext, channel: Channel, channel_id: str) -> list[ChannelMessage]:
        messages = channel.history(channel_id, ctx.policy.jobs.golden_path_history)
        return [m for m in messages if not m.from_self]

    def inputs_fingerprint(self, ctx: JobContext) -> str | None:
        """A hash of the message ids every target channel shows now (None if unreadable)."""
        try:
            channel = self._channel(ctx)
            targets, _ = self._targets(ctx, channel)
            keys = [_digest_key(info.id, self._read(ctx, channel, info.id)) for info in targets]
        except (ChannelError, SkipRun):
            return None  # run() will say what is wrong
        return hashlib.sha256("|".join(keys).encode()).hexdigest()[:32]

    # -- the run ------------------------------------------------------------------------

    def run(self, ctx: JobContext) -> dict[str, Any]:
        """List, read, summarize, post, remember (see :meth:`Job.run`).

        Raises:
            SkipRun: no channel connected, nothing allowlisted, or no messages anywhere.
            ChannelError: Discord failed while listing or reading.
        """
        channel = self._channel(ctx)
        targets, listed = self._targets(ctx, channel)
        results: list[dict[str, Any]] = []
        for info in targets:
            messages = self._read(ctx, channel, info.id)
            if not messages:
                results.append({"channel_id": info.id, "name": info.name, "skipped": "empty"})
                continue
            digest = self._digest(ctx, info, messages)
            post = self._post(ctx, info, digest, _digest_key(info.id, messages))
            memory_id = self._remember(ctx, info, messages, digest, post)
            results.append(
                {
                    "channel_id": info.id,
                    "name": info.name,
                    "messages": len(messages),
                    "summary_source": digest.source,
                    "summary": digest.text,
                    "memory_id": memory_id,
                    **post,
                }
            )
        if all("skipped" in r for r in results):
            raise SkipRun("no messages in the channels to summarize")
        return {
            "channels_listed": listed,
            "channels": results,
            "posted": sum(1 for r in results if r.get("posted")),
            "memories": sum(1 for r in results if r.get("memory_id")),
        }

    def _digest(self, ctx: JobContext, info: ChannelInfo, messages: list[ChannelMessage]) -> Digest:
        provider = ctx.provider
        budgets = ctx.runtime.budgets if ctx.runtime is not None else None
        budgets = budgets or BudgetLedger(ctx.store, ctx.clock, ctx.policy.tools.budget)
        exhausted = budgets.tokens_exhausted() if provider is not None else None
        digest = build_digest(
            info.name,
            messages,
            ctx.policy.discord.summary,
            provider=None if exhausted else provider,
            temperature=ctx.policy.llm.temperature,
            timeout_s=ctx.policy.llm.request_timeout_seconds,
        )
        if digest.llm_result is not None:
            CostLedger(ctx.store, ctx.clock, ctx.policy.llm).record(None, digest.llm_result)
        if exhausted:
            digest.errors.append(exhausted)
        return digest

    def _post(self, ctx: JobContext, info: ChannelInfo, digest: Digest, key: str) -> dict[str, Any]:
        summary = ctx.policy.discord.summary
        if not summary.post:
            return {"posted": False, "post_status": "off (discord.summary.post = false)"}
        if ctx.runtime is None:
            return {"posted": False, "post_status": "no tool runtime"}
        outcome = ctx.runtime.call(
            SEND_TOOL,
            {"channel_id": info.id, "content": digest.text, "dedupe_key": key},
            turn_id=None,
            source=SourceTag.JOB,
            confidence=summary.post_confidence,
        )
        result: dict[str, Any] = {
            "posted": outcome.status == "ok",
            "post_status": outcome.status,
            "tool_call_id": outcome.call_id,
        }
        if outcome.ok and isinstance(outcome.result, dict):
            result["message_ids"] = outcome.result.get("message_ids", [])
        if outcome.error:
            result["post_error"] = outcome.error
            log.warning("golden_path.not_posted", channel=info.id, reason=outcome.error)
        return result

    def _remember(
        self,
        ctx: JobContext,
        info: ChannelInfo,
        messages: list[ChannelMessage],
        digest: Digest,
        post: dict[str, Any],
    ) -> int | None:
        if ctx.memory is None:
            return None
        newest = max(messages, key=lambda m: m.ts)
        oldest = min(messages, key=lambda m: m.ts)
        meta = {
            "channel_name": info.name,
            "guild_id": info.guild_id,
            "guild_name": info.guild_name,
            "active_topics": digest.topics,
            "notable_users": digest.users,
            "message_count": digest.message_count,
            "first_message_id": oldest.id,
            "last_message_id": newest.id,
            "window_start": oldest.ts.isoformat(),
            "window_end": newest.ts.isoformat(),
            "summary_source": digest.source,
            "summary_errors": digest.errors,
            "posted_message_ids": post.get("message_ids", []),
        }
        (memory_id,) = ctx.memory.add(
            [
                NewMemory(
                    kind=MEMORY_KIND,
                    content=digest.text,
                    source=f"job:{self.name}",
                    channel_id=info.id,
                    source_meta=meta,
                    event_ts=newest.ts,
                    source_tag=SourceTag.JOB.value,
                    tags=[MEMORY_KIND],
                )
            ]
        )
        return memory_id
