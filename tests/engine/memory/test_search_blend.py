"""The search blend: score-aware relevance weights and conversation-contiguity spreading."""

from __future__ import annotations

from datetime import timedelta

import pytest

from engine.clock import FrozenClock
from engine.memory.blend import relevance_weights
from engine.memory.contiguity import conversation_neighbours
from engine.memory.records import NewMemory
from engine.memory.service import MemoryService
from engine.policy.memory import BlendWeights


def _weights(**values: float) -> BlendWeights:
    base = {"rrf": 0.0, "dense": 0.0, "bm25": 0.0, "rerank": 0.0, "activation": 0.0}
    return BlendWeights(**{**base, "weight": 0.0, "recency": 0.0, **values})


def test_rerank_weight_is_shared_when_rerank_is_skipped() -> None:
    w = _weights(rrf=0.05, dense=0.30, bm25=0.15, rerank=0.25)
    assert relevance_weights(w, reranked=True) == (0.05, 0.30, 0.15)
    rrf, dense, bm25 = relevance_weights(w, reranked=False)
    assert rrf + dense + bm25 == pytest.approx(0.75)
    assert dense / bm25 == pytest.approx(2.0) and dense / rrf == pytest.approx(6.0)
    assert relevance_weights(_weights(rrf=0.0, rerank=0.25), reranked=False) == (0.25, 0.0, 0.0)


def _message(text: str, channel: str | None, clock: FrozenClock, minutes: float) -> NewMemory:
    return NewMemory(
        kind="message",
        content=text,
        channel_id=channel,
        event_ts=clock.now() + timedelta(minutes=minutes),
    )


def test_neighbours_follow_the_conversation(service: MemoryService, clock: FrozenClock) -> None:
    ids = service.add(
        [
            _message("are you coming to the gig?", "c", clock, 0),
            _message("which brewery is it at?", "c", clock, 1),
            NewMemory(kind="tool_call", content="calendar.lookup", channel_id="c"),
            _message("Temescal Brewing, Saturday", "c", clock, 2),
            _message("see you there", "c", clock, 3),
            _message("a new day, new topic", "c", clock, 300),  # after a long silence
            _message("same time, other channel", "d", clock, 1),
            NewMemory(kind="fact", content="no channel at all"),
        ]
    )
    ask, which, tool, answer, bye, later, other, fact = ids
    near = conversation_neighbours(
        service.store.reader(),
        [which, later, fact, tool],
        span=2,
        gap_seconds=30 * 60,
        kinds=["message", "assistant_message"],
    )
    assert near[which] == [(ask, 1), (answer, 1), (bye, 2)]  # the tool call is skipped over
    assert near[later] == []  # 5 hours after the last message: a new conversation
    assert fact not in near and tool not in near  # no channel / not a conversation kind
    service.forget([answer])
    near = conversation_neighbours(
        service.store.reader(), [which], span=1, gap_seconds=1800, kinds=["message"]
    )
    assert near[which] == [(ask, 1), (bye, 1)]
    assert other not in {n for n, _ in near[which]}


def test_the_reply_to_a_matching_question_is_found(
    service: MemoryService, clock: FrozenClock
) -> None:
    turns = [
        "Maya: how is the band doing?",
        "Jonah: we have a gig at Temescal Brewing next month",
        "Maya: what are you reading these days?",
        "Jonah: a novel about lighthouse keepers",
        "Maya: cool, send me the title",
    ]
    ids = service.add([_message(t, "chat", clock, i) for i, t in enumerate(turns)])
    result = service.search("how is the band doing", 3, mutate=False, noise=False)
    assert result.hits[0].id == ids[0]
    reply = next(h for h in result.hits if h.id == ids[1])
    assert reply.explain.contiguity > 0 and reply.explain.contiguity_from[0] == ids[0]
    assert reply.score == pytest.approx(reply.explain.final)
    fenced = service.search("how is the band doing", 5, allowed=ids[:1], mutate=False)
    assert [h.id for h in fenced.hits] == [ids[0]]  # spreading never leaves `allowed`
