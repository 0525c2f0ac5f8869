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


def test_a_channel_turn_continues_its_own_channel(isolated_home: Path) -> None:
    replies: list[object] = [{"type": "message", "content": f"reply {i}"} for i in range(4)]
    with _engine(replies) as engine:
        for text, channel in [("console one", None), ("channel one", "c1")]:
            engine.submit(
                text, source="operator" if channel is None else "channel", channel_id=channel
            )
            engine.step()
        engine.submit("channel two", source="channel", channel_id="c1")
        engine.step()
        engine.submit("console two", source="operator")
        engine.step()
        provider = engine.provider
        assert isinstance(provider, ScriptedProvider)
        seen = [[m.content for m in r.messages] for r in provider.requests]
        assert "channel one" in seen[2] and "reply 1" in seen[2]  # c1's earlier exchange
        assert "console one" not in seen[2] and "reply 0" not in seen[2]
        assert "console one" in seen[3] and "reply 0" in seen[3]
        assert not {"channel one", "channel two", "reply 1", "reply 2"} & set(seen[3])
