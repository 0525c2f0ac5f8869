"""The turn commit writes the context's part during the model call and the act's
part while the gates run, as one transaction that nothing else shares: a failed gate
leaves no trace of the turn (in the store or the scoring cache), a slow one holds
other writers back no longer than ``engine.commit_overlap_seconds``, and any other
writer's job ends the early part's wait (it is written again, once)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.memory.records import NewMemory
from engine.memory.scoring_load import cached_memory
from engine.models import EventType, NewEvent
from engine.pipeline.act import ActResult
from engine.pipeline.context import AssembledContext
from engine.pipeline.inclusions import Inclusion
from engine.pipeline.turn_commit import ActProducts, EarlyPart, TurnProducts
from engine.store.events import insert_events


@pytest.fixture
def engine(isolated_home: Path) -> Iterator[Engine]:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    with Engine(settings, load_policy().policy, provider=ScriptedProvider([])) as opened:
        yield opened


def _open_turn(engine: Engine) -> tuple[int, int]:
    """A running turn, and a memory its context included."""
    assert engine.memory is not None
    (memory_id,) = engine.memory.add([NewMemory(kind="fact", content="the shed is green")])
    engine.store.write(
        lambda cur: cur.execute(
            "INSERT INTO turns (id, started_at, status, input) VALUES (77, now(), 'running', 'q')"
        )
    )
    return 77, memory_id


def _state(engine: Engine, memory_id: int) -> dict[str, Any]:
    cur = engine.store.reader()

    def one(sql: str, *args: Any) -> Any:
        row = cur.execute(sql, list(args)).fetchone()
        assert row is not None
        return row[0] if len(row) == 1 else row

    return {
        "turn": one("SELECT status, output, record FROM turns WHERE id = 77"),
        "inclusions": one("SELECT count(*) FROM context_inclusions WHERE turn_id = 77"),
        "accesses": one("SELECT count(*) FROM memory_accesses WHERE memory_id = ?", memory_id),
        "included": one("SELECT included_count_decay FROM memories WHERE id = ?", memory_id),
        "replies": one(
            "SELECT count(*) FROM events WHERE type = ?", EventType.LLM_ASSISTANT_MESSAGE.value
        ),
        "notes": one("SELECT count(*) FROM events WHERE source = 'other-writer'"),
    }


def _done(turn_id: int, memory_id: int) -> ActProducts:
    act = ActResult(output="it is green", stop_reason="reply")
    return ActProducts(turn_id, act, None, [Inclusion(memory_id, "related", 1, 0.9, {}, 5)])


def _note(engine: Engine) -> None:
    """Another writer's job, queued while the turn's transaction is open."""
    writer = engine.store.writer
    assert writer is not None
    event = NewEvent(
        type=EventType.LOCAL_MESSAGE_CREATED,
        source="other-writer",
        ts=engine.clock.now(),
        payload={},
    )
    writer.submit(lambda cur: insert_events(cur, writer.ids.take("events"), [event]))


def _cached(engine: Engine, memory_id: int) -> dict[str, Any] | None:
    assert engine.memory is not None
    return cached_memory(engine.memory.scoring, memory_id)


def _commit(engine: Engine, turn_id: int, memory_id: int, gate: Any, overlap: float) -> Any:
    return engine.turns.mind.committer.commit(
        _done(turn_id, memory_id), gate, engine.clock.now(), overlap
    )


def _assert_committed(engine: Engine, memory_id: int, before: dict[str, Any]) -> None:
    after = _state(engine, memory_id)
    status, output, record = after["turn"]
    assert (status, output) == ("committed", "it is green")
    assert '"output_event_id"' in record and '"llm_calls": []' in record
    assert after["inclusions"] == 1 and after["accesses"] == before["accesses"] + 1
    assert after["included"] == before["included"] + 1
    assert after["replies"] == before["replies"] + 1


def _products(turn_id: int) -> TurnProducts:
    act = ActResult(output="it is green", stop_reason="reply")
    return TurnProducts(turn_id, "committed", act, {"input": "q"}, None)


def test_the_whole_turn_commits_once_the_gates_are_done(engine: Engine) -> None:
    turn_id, memory_id = _open_turn(engine)
    before, cached = _state(engine, memory_id), _cached(engine, memory_id)
    assert cached is not None

    def gate() -> TurnProducts:
        _note(engine)  # queued behind the turn's transaction, not inside it
        time.sleep(0.2)
        assert _state(engine, memory_id) == before  # a reader sees nothing of the turn yet
        assert _cached(engine, memory_id) == cached  # nor does the scoring cache
        return _products(turn_id)

    products, minted = _commit(engine, turn_id, memory_id, gate, 5.0)
    assert products.status == "committed" and minted == []
    _assert_committed(engine, memory_id, before)
    now = _cached(engine, memory_id)
    assert now is not None and len(now["access_timestamps"]) == len(cached["access_timestamps"]) + 1
    time.sleep(0.1)
    assert _state(engine, memory_id)["notes"] == 1  # ran after the turn, on its own


@pytest.mark.parametrize("overlap", [0.1, 0.0])
def test_a_slow_gate_holds_other_writers_back_only_briefly(engine: Engine, overlap: float) -> None:
    turn_id, memory_id = _open_turn(engine)
    before = _state(engine, memory_id)

    def gate() -> TurnProducts:
        _note(engine)
        time.sleep(0.6)  # a remote embedder, say
        seen = _state(engine, memory_id)
        assert seen["notes"] == 1  # the other writer did not wait for the gate
        assert seen["inclusions"] == before["inclusions"]  # the act's part was rolled back
        return _products(turn_id)

    _commit(engine, turn_id, memory_id, gate, overlap)
    _assert_committed(engine, memory_id, before)  # written after the gate, once


def test_a_failed_gate_leaves_no_trace_of_the_turn(engine: Engine) -> None:
    turn_id, memory_id = _open_turn(engine)
    before, cached = _state(engine, memory_id), _cached(engine, memory_id)

    def gate() -> TurnProducts:
        _note(engine)
        raise RuntimeError("the exit gate broke")

    with pytest.raises(RuntimeError, match="exit gate broke"):
        _commit(engine, turn_id, memory_id, gate, 5.0)
    time.sleep(0.1)
    after = _state(engine, memory_id)
    assert after["notes"] == 1  # the other writer's job was not rolled back with the turn
    assert {k: v for k, v in after.items() if k != "notes"} == {
        k: v for k, v in before.items() if k != "notes"
    }
    assert after["turn"][0] == "running"  # recovery marks it interrupted at the next start
    assert _cached(engine, memory_id) == cached


def _begin(engine: Engine, turn_id: int, memory_id: int) -> EarlyPart:
    """The turn's transaction opened with its context's effects, as while the model runs."""
    context = AssembledContext([], _done(turn_id, memory_id).inclusions, {}, [])
    return engine.turns.mind.committer.begin(turn_id, context, engine.clock.now())


def _commit_early(engine: Engine, turn_id: int, memory_id: int, early: EarlyPart) -> Any:
    return engine.turns.mind.committer.commit(
        _done(turn_id, memory_id), lambda: _products(turn_id), engine.clock.now(), 5.0, early
    )


def test_the_context_part_is_written_early_in_the_turns_transaction(engine: Engine) -> None:
    turn_id, memory_id = _open_turn(engine)
    before, cached = _state(engine, memory_id), _cached(engine, memory_id)
    early = _begin(engine, turn_id, memory_id)
    time.sleep(0.2)  # the model generates: the part is written, open and unseen
    assert not early.future.done()
    assert _state(engine, memory_id) == before and _cached(engine, memory_id) == cached
    _commit_early(engine, turn_id, memory_id, early)
    assert early.future.done() and early.future.exception() is None  # it carried the turn
    _assert_committed(engine, memory_id, before)


def test_another_writer_ends_the_early_wait_and_the_turn_is_written_once(
    engine: Engine,
) -> None:
    turn_id, memory_id = _open_turn(engine)
    before = _state(engine, memory_id)
    early = _begin(engine, turn_id, memory_id)
    time.sleep(0.2)
    _note(engine)  # e.g. an input arriving while the model generates
    time.sleep(0.2)
    assert early.future.done()  # gave up at once: the note did not wait for the model
    seen = _state(engine, memory_id)
    assert seen["notes"] == 1 and seen["inclusions"] == before["inclusions"]
    _commit_early(engine, turn_id, memory_id, early)
    _assert_committed(engine, memory_id, before)  # inclusions and statistics once


def test_an_abandoned_early_part_leaves_nothing(engine: Engine) -> None:
    turn_id, memory_id = _open_turn(engine)
    before = _state(engine, memory_id)
    early = _begin(engine, turn_id, memory_id)
    time.sleep(0.1)
    early.abandon()  # the turn failed before its commit
    with pytest.raises(Exception) as failed:
        early.future.result(5)
    assert type(failed.value).__name__ == "_Abandoned"  # rolled back on purpose
    assert _state(engine, memory_id) == before
