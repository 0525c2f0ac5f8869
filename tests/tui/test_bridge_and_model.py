"""The bridge (thread-safe inbox, delta coalescing) and the console model (signals in,
dirty panels out), without a screen."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

from cephalon_tui.bridge import SignalBridge, coalesce
from cephalon_tui.console_model import (
    ATTENTION,
    CHAT,
    STATUS,
    TOOLS,
    ConsoleModel,
)
from engine.backend_local import LocalBackend
from engine.config import load_settings
from engine.engine import Engine
from engine.signals import (
    AttentionCandidates,
    CandidateView,
    EngineState,
    LlmDelta,
    SalienceParts,
    Signal,
    ToolCallDenied,
    ToolCallFinished,
    ToolCallStarted,
    TurnCommitted,
    TurnStarted,
)
from tests.tui.conftest import POLICY

TS = datetime(2026, 1, 1, 12, tzinfo=UTC)


def delta(turn: int, text: str) -> LlmDelta:
    return LlmDelta(ts=TS, turn_id=turn, text=text, provider="p")


def test_coalesce_joins_runs_of_deltas_of_one_turn_and_keeps_order() -> None:
    state = EngineState(ts=TS, state="running")
    out = coalesce(
        [delta(1, "a"), delta(1, "b"), state, delta(1, "c"), delta(2, "x"), delta(2, "y")]
    )
    assert [(s.kind, getattr(s, "text", None), s.turn_id) for s in out] == [
        ("llm.delta", "ab", 1),
        ("engine.state", None, None),
        ("llm.delta", "c", 1),
        ("llm.delta", "xy", 2),
    ]


def test_bridge_takes_signals_from_many_threads_without_losing_any() -> None:
    bridge = SignalBridge()

    def produce(turn: int) -> None:
        for i in range(2000):
            bridge.put(delta(turn, f"{i},"))

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    drained: list[Signal] = []
    while any(t.is_alive() for t in threads):
        drained += bridge.drain()
    drained += bridge.drain()
    assert bridge.received == 8000 and bridge.dropped == 0 and bridge.pending == 0
    for turn in range(4):
        text = "".join(s.text for s in drained if isinstance(s, LlmDelta) and s.turn_id == turn)
        assert text == "".join(f"{i}," for i in range(2000))  # in order, nothing lost


def test_bridge_drops_the_oldest_when_the_ui_falls_far_behind() -> None:
    bridge = SignalBridge(max_pending=3)
    for i in range(5):
        bridge.put(EngineState(ts=TS, state=f"s{i}"))
    assert bridge.dropped == 2
    assert [s.state for s in bridge.drain() if isinstance(s, EngineState)] == ["s2", "s3", "s4"]


def test_bridge_attaches_to_a_backend_and_detaches(backend: LocalBackend, engine: Engine) -> None:
    bridge = SignalBridge()
    bridge.attach(backend)
    engine.bus.emit(EngineState(ts=TS, state="probe"))
    assert [s.kind for s in bridge.drain()] == ["engine.state"]
    bridge.detach()
    engine.bus.emit(EngineState(ts=TS, state="probe"))
    assert bridge.drain() == []


def test_model_follows_an_operator_message_through_its_turn() -> None:
    model = ConsoleModel()
    mine = model.add_operator_message("hello")
    mine.candidate_id, mine.status = 5, "queued"
    started = TurnStarted(ts=TS, turn_id=9, input="hello", source="operator", candidate_id=5)
    assert model.apply(started) == {CHAT}
    assert model.apply_all([delta(9, "Hi "), delta(9, "there")]) == {CHAT}
    assert model.chat[-1].text == "Hi there" and model.chat[-1].streaming
    done = TurnCommitted(
        ts=TS,
        turn_id=9,
        status="committed",
        output="Hi there.",
        stop_reason="message",
        latency_ms=1.0,
    )
    assert model.apply(done) == {CHAT, STATUS}
    assert [(e.role, e.text, e.status) for e in model.chat] == [
        ("you", "hello", "answered"),
        ("cephalon", "Hi there.", "committed"),
    ]


def test_model_shows_other_inputs_and_failed_turns() -> None:
    model = ConsoleModel()
    model.apply(TurnStarted(ts=TS, turn_id=1, input="an idle thought", source="dmn"))
    model.apply(
        TurnCommitted(
            ts=TS, turn_id=1, status="failed", output=None, stop_reason="error", latency_ms=1
        )
    )
    assert [(e.role, e.source, e.text) for e in model.chat] == [
        ("input", "dmn", "an idle thought"),
        ("cephalon", "operator", "(no reply: error)"),
    ]


def test_model_tool_rows_and_denials_without_a_start() -> None:
    model = ConsoleModel()
    model.apply(
        ToolCallStarted(ts=TS, turn_id=1, call_id=1, tool="clock.now", scope="read", args={})
    )
    assert model.tools[1].status == "running"
    dirty = model.apply(
        ToolCallFinished(
            ts=TS,
            turn_id=1,
            call_id=1,
            tool="clock.now",
            scope="read",
            status="ok",
            duration_ms=2.5,
            attempts=1,
        )
    )
    assert dirty == {TOOLS} and model.tools[1].duration_ms == 2.5
    model.apply(ToolCallDenied(ts=TS, call_id=2, tool="memory.add", scope="write", reason="locked"))
    assert model.tools[2].status == "denied" and model.tools[2].args_summary == "—"


def test_model_attention_tracks_how_each_candidate_moved() -> None:
    model = ConsoleModel()
    parts = SalienceParts(novelty=0.1, relevance=0.2, charge=0.3, urgency=0.4)

    def round_(loser: float) -> AttentionCandidates:
        return AttentionCandidates(
            ts=TS,
            candidates=[
                CandidateView(id=2, source="dmn", text="b", salience=loser, parts=parts),
                CandidateView(
                    id=1, source="operator", text="a", salience=0.9, parts=parts, winner=True
                ),
            ],
            winner_id=1,
            reason="r",
        )

    assert model.apply(round_(0.5)) == {ATTENTION}
    assert [(r.candidate.id, r.change) for r in model.attention] == [(1, None), (2, None)]
    model.apply(round_(0.4))
    assert model.attention[0].candidate.winner
    change = model.attention[1].change
    assert change is not None and abs(change + 0.1) < 1e-9


def test_status_tokens_per_second_is_the_decode_rate(backend: LocalBackend, engine: Engine) -> None:
    """tokens/s leaves out the wait for the first token (prefill, a cold model load)."""
    assert backend.status()["tokens_per_s"] is None  # no call yet
    rows = [  # (tokens_out, latency_ms, ttft_ms): a cold call, then a warm one
        (50, 42_000.0, 40_000.0),
        (30, 1_500.0, 300.0),
    ]
    engine.store.write(
        lambda cur: cur.executemany(
            "INSERT INTO llm_calls (id, ts, provider, model, status, tokens_out, latency_ms, "
            "ttft_ms) VALUES (?, now(), 'local', 'm', 'ok', ?, ?, ?)",
            [[900 + i, *row] for i, row in enumerate(rows)],
        )
    )
    # (50 + 30) tokens over (2,000 + 1,200) ms of decoding
    assert backend.status()["tokens_per_s"] == 25.0


def test_status_says_when_the_embedded_model_is_not_ready(isolated_home: Path) -> None:
    """An embedded model that cannot load shows as not ready, with why."""
    from engine.llm.local import LocalProvider

    missing = isolated_home / "no-such-model.gguf"
    provider = LocalProvider(missing, n_threads=1)
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    with Engine(settings, POLICY.policy, provider=provider) as engine:
        provider.wait_ready(30)
        status = LocalBackend(engine, POLICY).status()
    assert status["model_ready"] is False
    assert status["model_state"].startswith("failed: ") and "no-such-model" in status["model_state"]
