"""The attention queue and the working transcript are kept in memory and agree with
the store."""

from __future__ import annotations

from pathlib import Path

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.base import ChatMessage
from engine.llm.scripted import ScriptedProvider
from engine.mind.candidate_queue import CandidateQueue
from engine.pipeline.transcript import as_messages, recent_exchanges


def _stored(engine: Engine, turns: int, channel_id: str | None = None) -> list[ChatMessage]:
    return as_messages(recent_exchanges(engine.store.reader(), turns, channel_id))


def _engine(replies: list[object]) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, load_policy().policy, provider=ScriptedProvider(replies))


def test_the_in_memory_queue_and_transcript_agree_with_the_store(isolated_home: Path) -> None:
    replies: list[object] = [{"type": "message", "content": f"reply {i}"} for i in range(4)]
    with _engine(replies) as engine:
        engine.intake.submit("(idle thought) the garden", source="dmn")
        engine.submit("first question", source="operator")
        engine.submit("from a channel", source="channel", channel_id="c1")
        for _ in range(3):
            engine.step()
            fresh = CandidateQueue(engine.store).pending()  # read from the store
            assert engine.turns.mind.queue.pending() == fresh
        for channel in (None, "c1"):
            cached = engine.turns.transcripts.get(5, channel)
            assert cached == _stored(engine, 5, channel)
        engine.submit("second question", source="operator")
        engine.step()
        assert engine.turns.mind.queue.pending() == CandidateQueue(engine.store).pending()
        cached = engine.turns.transcripts.get(5)
        assert cached == _stored(engine, 5)
        assert [m.content for m in cached][-2:] == ["second question", "reply 3"]
        assert engine.turns.transcripts.get(1) == _stored(engine, 1)
