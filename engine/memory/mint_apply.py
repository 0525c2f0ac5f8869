"""Applying the minting rules to stored events (see ``engine.memory.minting``)."""

from __future__ import annotations

from typing import Any

from engine.memory.minting import MintDecision, decide, memory_text
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.models import Event


def _message_id(event: Event) -> str | None:
    value = event.payload.get("message_id")
    return str(value) if value is not None else None


def memory_from_event(
    event: Event, decision: MintDecision, **meta: Any
) -> NewMemory:
    """The memory a ``mint`` decision makes of an event.

    Args:
        event: the stored event.
        decision: the minting rules' decision (kind, confidence, embed).
        meta: more ``source_meta`` (e.g. ``minted_by``).

    Returns:
        The memory to add.
    """
    source_meta: dict[str, Any] = {"event_type": event.type, **meta}
    if _message_id(event):
        source_meta["message_id"] = _message_id(event)
    return NewMemory(
        kind=decision.kind,
        content=memory_text(event),
        source=event.source,
        channel_id=event.channel_id,
        author_id=event.author_id,
        author_is_bot=event.author_is_bot,
        source_meta=source_meta,
        event_ids=[event.id],
        event_ts=event.ts,
        source_confidence=decision.confidence,
        embed=decision.embed,
        source_tag=str(event.payload.get("source_tag", event.source)),
    )


def mint_event(
    service: MemoryService, event: Event, *, duplicate: bool = False
) -> tuple[MintDecision, list[int]]:
    """Apply the minting rules to a stored event.

    Args:
        service: the memory service.
        event: the event (already appended to the log).
        duplicate: the dedupe stage found it a duplicate.

    Returns:
        The decision and the ids of the memories it created, linked or deleted.
    """
    decision = decide(event, service.policy, duplicate=duplicate)
    if decision.action == "skip":
        return decision, []
    if decision.action in ("link", "delete"):
        message_id = _message_id(event)
        rows = (
            service.store.reader()
            .execute(
                "SELECT id FROM memories WHERE source_meta->>'message_id' = ? AND NOT deleted",
                [message_id],
            )
            .fetchall()
            if message_id
            else []
        )
        ids = [int(r[0]) for r in rows]
        if decision.action == "delete":
            service.forget(ids)
        elif ids:
            service.store.write(
                lambda cur: cur.execute(
                    "UPDATE memories SET event_ids = list_append(event_ids, $1) WHERE id = ANY($2)",
                    [event.id, ids],
                )
            )
        return decision, ids
    memory = memory_from_event(event, decision)
    return decision, service.add([memory])
