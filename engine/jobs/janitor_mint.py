"""The janitor's minting step: Discord messages that are not bot duplicates become memories.

After the aggregator has fingerprinted new ``discord.message.created`` events and
put bot duplicates into spam families, every fingerprinted message left outside a
family (human messages, bot posts seen once) is minted by the minting rules
(:func:`engine.memory.minting.decide`): humans embedded, bots embedded only where
the channel allows raw bot messages. Family members never become memories (their
aggregate stands for them), so a raw bot duplicate is never embedded.

Progress is a cursor (the highest event id handled, in ``job_state``): everything
up to just below the oldest message still waiting for its fingerprint.
(Local chat messages are not minted here: their turns mint them.)
"""

from __future__ import annotations

from engine.jobs.base import JobContext
from engine.memory.mint_apply import memory_from_event
from engine.memory.minting import decide
from engine.memory.records import NewMemory
from engine.models import Event, EventType
from engine.store.events import event_from_row
from engine.store.sql import scalar

CREATED = EventType.DISCORD_MESSAGE_CREATED.value


def _memory(ctx: JobContext, event: Event) -> NewMemory | None:
    decision = decide(event, ctx.policy, duplicate=False)
    if decision.action != "mint":
        return None
    return memory_from_event(event, decision, minted_by="janitor")


def mint_new_messages(ctx: JobContext, cursor: int) -> tuple[int, dict[str, int]]:
    """Mint the fingerprinted Discord messages after ``cursor`` that are in no family.

    Args:
        ctx: the job's context (``memory`` must be open).
        cursor: the highest event id already handled.

    Returns:
        The new cursor, and counts: ``messages`` looked at, ``minted``, ``embedded``.
    """
    assert ctx.memory is not None
    cur = ctx.store.reader()
    waiting = scalar(
        cur,
        "SELECT min(e.id) FROM events e WHERE e.type = ? AND NOT EXISTS "
        "(SELECT 1 FROM event_fingerprints f WHERE f.event_id = e.id)",
        [CREATED],
    )
    newest = scalar(cur, "SELECT coalesce(max(id), 0) FROM events")
    upper = int(waiting) - 1 if waiting is not None else int(newest)
    counts = {"messages": 0, "minted": 0, "embedded": 0}
    if upper <= cursor:
        return cursor, counts
    batch = ctx.policy.dedupe.batch_events
    low = cursor
    while True:
        rows = cur.execute(
            "SELECT e.id, e.ts, e.type, e.source, e.channel_id, e.author_id, e.author_is_bot, "
            "e.payload, e.content_hash FROM events e "
            "JOIN event_fingerprints f ON f.event_id = e.id "
            "WHERE e.type = ? AND f.family_id IS NULL AND e.id > ? AND e.id <= ? "
            "ORDER BY e.id LIMIT ?",
            [CREATED, low, upper, batch],
        ).fetchall()
        if not rows:
            break
        events = [event_from_row(row) for row in rows]
        items = [m for m in (_memory(ctx, e) for e in events) if m is not None]
        if items:
            ctx.memory.add(items)
        counts["messages"] += len(events)
        counts["minted"] += len(items)
        counts["embedded"] += sum(1 for m in items if m.embed)
        low = events[-1].id
    return upper, counts
