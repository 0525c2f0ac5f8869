"""The console under a steady signal load, for bench_tui.py (run it inside a terminal).

Builds what ``cephalon`` builds (an in-process engine, here with a scripted model and
the hashing embedder, on the data dir of ``--home``), starts a thread that emits
``--rate`` signals a second onto the engine's bus (a realistic mix: streamed tokens,
attention reports, tool calls, gut readings) and runs the Textual console on this
terminal. bench_tui.py types into it through tmux and watches the screen.

Usage: python bench/tui_under_load.py --home DIR [--rate 200]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def emit_forever(engine: object, rate: float, stop: threading.Event) -> None:
    """Emit ``rate`` signals a second (paced, not bursty) until ``stop`` is set."""
    from engine.engine import Engine
    from engine.signals import (
        AttentionCandidates,
        CandidateView,
        GutDelta,
        LlmDelta,
        SalienceParts,
        ToolCallFinished,
        ToolCallStarted,
    )

    assert isinstance(engine, Engine)
    bus, clock = engine.bus, engine.clock
    period = 1.0 / rate
    due = time.perf_counter()
    n = 0
    while not stop.is_set():
        n += 1
        now = clock.now()
        turn = 1000 + n // 200
        slot = n % 20
        signal: object
        if slot < 14:  # mostly token deltas, as a streaming reply makes
            signal = LlmDelta(ts=now, turn_id=turn, text=f"tok{n % 97} ", provider="bench")
        elif slot < 16:
            parts = SalienceParts(novelty=0.5, relevance=0.3, charge=0.1, urgency=0.8)
            views = [
                CandidateView(id=n + i, source="operator", text=f"candidate {i}",
                              salience=0.4 - 0.05 * i, parts=parts, winner=i == 0)
                for i in range(5)
            ]
            signal = AttentionCandidates(ts=now, turn_id=turn, candidates=views,
                                         winner_id=n, reason="bench")
        elif slot < 18:
            signal = ToolCallStarted(ts=now, turn_id=turn, call_id=n, tool="clock.now",
                                     scope="read", args={})
        elif slot < 19:
            signal = ToolCallFinished(ts=now, turn_id=turn, call_id=n - 1, tool="clock.now",
                                      scope="read", status="ok", duration_ms=1.0, attempts=1)
        else:
            signal = GutDelta(ts=now, turn_id=turn, intensity=(n % 50) / 50, charge=0.2,
                              toward=[])
        bus.emit(signal)  # type: ignore[arg-type]
        due += period
        delay = due - time.perf_counter()
        if delay > 0:
            stop.wait(delay)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument("--rate", type=float, default=200.0, help="signals per second")
    args = parser.parse_args()

    from cephalon_tui.app import CephalonApp
    from cephalon_tui.engine_access import configure_cli_logging
    from engine.backend_local import LocalBackend
    from engine.config import load_policy, load_settings
    from engine.engine import Engine
    from engine.llm.scripted import ScriptedProvider

    settings = load_settings().model_copy(update={"embedder": "hashing"})
    configure_cli_logging(settings)  # logs to the data dir, never onto the terminal
    loaded = load_policy()
    engine = Engine(settings, loaded.policy, provider=ScriptedProvider(echo_when_exhausted=True))
    engine.start()
    stop = threading.Event()
    threading.Thread(target=emit_forever, args=(engine, args.rate, stop), daemon=True).start()
    try:
        CephalonApp(LocalBackend(engine, loaded)).run()
    finally:
        stop.set()
        engine.close()


if __name__ == "__main__":
    main()
