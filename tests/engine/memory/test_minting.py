"""The minting matrix, applied to real stored events and a real memory service."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.mint_apply import mint_event
from engine.memory.minting import decide
from engine.memory.service import MemoryService
from engine.models import Event, EventType, NewEvent
from engine.store import EventLog, Store

BOTS = "343299242963763200"  # channel policy: raw bot messages not embedded
DUCK_BOTS = "450688080542695436"  # channel policy: raw bot messages embedded
POLICY = load_policy().policy


@pytest.fixture
def env(tmp_path: Path, clock: FrozenClock) -> Iterator[tuple[EventLog, MemoryService]]:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        svc = MemoryService(store, HashingEmbedder(), POLICY, clock, tmp_path / "index")
        svc.open()
        yield EventLog(store), svc


def _event(log: EventLog, clock: FrozenClock, type_: EventType, **kw: Any) -> Event:
    event_id = log.append(
        NewEvent(type=type_, source=kw.pop("source", "discord"), ts=clock.now(), **kw)
    )
    return next(e for e in log.tail(limit=5) if e.id == event_id)


def _embedded(svc: MemoryService, memory_id: int) -> bool:
    return svc.vectors.contains(memory_id)


def test_human_and_bot_messages(env: tuple[EventLog, MemoryService], clock: FrozenClock) -> None:
    log, svc = env
    human = _event(
        log,
        clock,
        EventType.DISCORD_MESSAGE_CREATED,
        channel_id=BOTS,
        author_id="u1",
        payload={"content": "anyone up for chess?", "message_id": "m1"},
    )
    decision, (hid,) = mint_event(svc, human)
    assert decision.kind == "message" and _embedded(svc, hid)
    bot = _event(
        log,
        clock,
        EventType.DISCORD_MESSAGE_CREATED,
        channel_id=BOTS,
        author_id="b1",
        author_is_bot=True,
        payload={"content": "Price alert: BTC up"},
    )
    decision, (bid,) = mint_event(svc, bot)
    assert not _embedded(svc, bid) and svc.get(bid).source_confidence == 0.5  # type: ignore[union-attr]
    dup_decision, ids = mint_event(svc, bot, duplicate=True)
    assert dup_decision.action == "skip" and ids == []
    duck = _event(
        log,
        clock,
        EventType.DISCORD_MESSAGE_CREATED,
        channel_id=DUCK_BOTS,
        author_id="b2",
        author_is_bot=True,
        payload={"content": "quack report"},
    )
    _, (did,) = mint_event(svc, duck)
    assert _embedded(svc, did)


def test_edit_links_and_delete_forgets(
    env: tuple[EventLog, MemoryService], clock: FrozenClock
) -> None:
    log, svc = env
    created = _event(
        log,
        clock,
        EventType.DISCORD_MESSAGE_CREATED,
        author_id="u1",
        payload={"content": "meet at 5", "message_id": "m9"},
    )
    _, (memory_id,) = mint_event(svc, created)
    edited = _event(
        log,
        clock,
        EventType.DISCORD_MESSAGE_EDITED,
        payload={"content": "meet at 6", "message_id": "m9"},
    )
    decision, ids = mint_event(svc, edited)
    assert decision.action == "link" and ids == [memory_id]
    memory = svc.get(memory_id)
    assert memory is not None and memory.event_ids == [created.id, edited.id]
    assert memory.content == "meet at 5"  # not re-embedded, not rewritten
    deleted = _event(log, clock, EventType.DISCORD_MESSAGE_DELETED, payload={"message_id": "m9"})
    mint_event(svc, deleted)
    assert svc.get(memory_id).deleted and not _embedded(svc, memory_id)  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("type_", "payload", "kind", "embedded"),
    [
        (
            EventType.TOOL_CALL,
            {"tool": "memory.search", "args": {"query": "x"}},
            "tool_call",
            False,
        ),
        (EventType.TOOL_RESULT, {"result": {"status": "ok"}}, "tool_result", False),
        (
            EventType.TOOL_RESULT,
            {
                "result": "The Eiffel Tower is 330 metres tall and was built "
                "for the 1889 World's Fair."
            },
            "tool_result",
            True,
        ),
        (EventType.LLM_ASSISTANT_MESSAGE, {"content": "Hello!"}, "assistant_message", True),
        (EventType.LLM_THINK_TRACE, {"content": "maybe search first"}, "think_trace", False),
        (EventType.ADMIN_COMMAND, {"command": "pin", "id": 3}, "admin", False),
        (EventType.MEMORY_SUMMARY_CREATED, {"content": "Summary of #general"}, "summary", True),
        (EventType.MEMORY_COMPACTION_DELETED, {"content": "tombstone of 12"}, "tombstone", False),
        (EventType.SYSTEM_TICK, {"led_to_action": True}, "tick", False),
    ],
)
def test_matrix(
    env: tuple[EventLog, MemoryService],
    clock: FrozenClock,
    type_: EventType,
    payload: dict[str, Any],
    kind: str,
    embedded: bool,
) -> None:
    log, svc = env
    decision, (memory_id,) = mint_event(svc, _event(log, clock, type_, payload=payload))
    assert decision.kind == kind
    assert _embedded(svc, memory_id) is embedded


def test_idle_ticks_and_empty_messages_are_skipped(
    env: tuple[EventLog, MemoryService], clock: FrozenClock
) -> None:
    log, _ = env
    assert decide(_event(log, clock, EventType.SYSTEM_TICK), POLICY).action == "skip"
    empty = _event(log, clock, EventType.LOCAL_MESSAGE_CREATED, payload={"content": "  "})
    assert decide(empty, POLICY).action == "skip"
    off = POLICY.model_copy(
        update={"minting": POLICY.minting.model_copy(update={"think_traces": False})}
    )
    trace = _event(log, clock, EventType.LLM_THINK_TRACE, payload={"content": "hmm"})
    assert decide(trace, off).action == "skip"


def test_an_embed_only_bot_message_is_minted_from_its_embed_text() -> None:
    from datetime import UTC, datetime

    from engine.config import load_policy
    from engine.memory.minting import decide, memory_text
    from engine.models import Event

    event = Event(
        id=1,
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        type="discord.message.created",
        source="discord",
        channel_id="1",
        author_id="2",
        author_is_bot=True,
        payload={"content": "", "embed_text": "Build 42 passed on main"},
        content_hash=None,
    )
    decision = decide(event, load_policy().policy, duplicate=False)
    assert decision.action == "mint"
    assert memory_text(event) == "Build 42 passed on main"
