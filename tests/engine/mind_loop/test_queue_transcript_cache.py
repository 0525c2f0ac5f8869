"""The attention queue and the working transcript are kept in memory and agree with
the store."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider, ScriptedReply
from engine.mind.candidate_queue import CandidateQueue
from engine.pipeline.transcript import recent_transcript
from engine.pipeline.turn_record import TurnOutcome
from engine.store.sql import scalar


def _engine(replies: list[object]) -> Engine:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    return Engine(settings, load_policy().policy, provider=ScriptedProvider(replies))


def _slow(text: str, seconds: float = 1.5) -> ScriptedReply:
    return ScriptedReply(envelope={"type": "message", "content": text}, delay_s=seconds)


def _in_background(engine: Engine, text: str) -> tuple[threading.Thread, list[TurnOutcome]]:
    done: list[TurnOutcome] = []
    thread = threading.Thread(target=lambda: done.append(engine.run_turn(text)))
    thread.start()
    assert engine.store.writer is not None
    deadline = time.monotonic() + 10
    while engine.store.writer.side_count == 0:  # the model is generating: effects staged
        assert time.monotonic() < deadline, "the turn never staged its effects"
        time.sleep(0.01)
    time.sleep(0.4)  # staging takes tens of ms; the model takes 1.5 s
    return thread, done


def _inclusions(engine: Engine, turn_id: int | None = None) -> int:
    if turn_id is None:
        return int(scalar(engine.store.reader(), "SELECT count(*) FROM context_inclusions"))
    return int(
        scalar(
            engine.store.reader(),
            "SELECT count(*) FROM context_inclusions WHERE turn_id = ?",
            [turn_id],
        )
    )


def _decay(engine: Engine, memory_id: int) -> float:
    return float(
        scalar(
            engine.store.reader(),
            "SELECT included_count_decay FROM memories WHERE id = ?",
            [memory_id],
        )
    )


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
            assert cached == recent_transcript(engine.store.reader(), 5, channel)
        engine.submit("second question", source="operator")
        engine.step()
        assert engine.turns.mind.queue.pending() == CandidateQueue(engine.store).pending()
        cached = engine.turns.transcripts.get(5)
        assert cached == recent_transcript(engine.store.reader(), 5)
        assert [m.content for m in cached][-2:] == ["second question", "reply 3"]
        assert engine.turns.transcripts.get(1) == recent_transcript(engine.store.reader(), 1)
