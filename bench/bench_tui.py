"""Console start-up and input latency in a real terminal (printed numbers, not a test).

    .venv/bin/python bench/bench_tui.py                 # 5 start-ups, 60 keys at 200 signals/s
    .venv/bin/python bench/bench_tui.py --starts 3 --keys 30 --rate 400

Everything runs in a private tmux server (a real pty, 120x40), timed from outside
by polling ``tmux capture-pane`` every ~3 ms (so each number carries a few ms of
polling):

1. start-up: ``cephalon`` (the real entry point, the engine on a scripted model so
   no LLM load is in the numbers; the MiniLM embedder still loads in the background)
   on a fresh data dir. Measured from the tmux command's start: the *first frame*
   (the Chat panel's title on screen), *interactive* (a key sent right after the
   first frame is echoed in the prompt) and *engine ready* (the status bar says
   ``running``).
2. input latency under load: bench/tui_under_load.py runs the same console with a
   thread emitting ``--rate`` signals a second (streamed tokens, attention reports,
   tool calls, gut readings). Each of ``--keys`` keystrokes is sent with
   ``tmux send-keys`` and timed until the pane shows it (keypress-to-echo).

Targets (issue 6): first frame < 1.5 s; keypress-to-echo p95 < 100 ms at 200 signals/s.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.tui.tmux_session import TmuxSession, tmux_available  # noqa: E402

WIDTH, HEIGHT = 120, 40
POLL_S = 0.003
MARK = "@@"
"""Typed first into the prompt: what follows it on screen is what was typed."""


def seen_at(tmux: TmuxSession, needle: str, timeout: float = 60.0) -> float:
    """Poll the pane every POLL_S until ``needle`` shows; the perf_counter time it did."""
    tmux.wait_for(needle, timeout=timeout, poll_s=POLL_S)
    return time.perf_counter()


def env_for(home: Path) -> dict[str, str]:
    script = home / "script.json"
    home.mkdir(parents=True, exist_ok=True)
    script.write_text(json.dumps({"replies": [], "then": "echo"}))
    return {
        "CEPHALON_HOME": str(home),
        "CEPHALON_PROVIDER": "scripted",
        "CEPHALON_SCRIPT_FILE": str(script),
        "TERM": "tmux-256color",
        "COLORTERM": "truecolor",
    }


def command(*args: str) -> str:
    run = " ".join(shlex.quote(a) for a in (sys.executable, *args))
    return f"cd {shlex.quote(str(REPO))} && env -u COLUMNS -u LINES {run}"


def one_start(home: Path) -> dict[str, float]:
    """Start ``cephalon`` once; seconds to first frame, interactive and engine ready."""
    t0 = time.perf_counter()
    with TmuxSession(command("-m", "cephalon_tui"), env_for(home), WIDTH, HEIGHT) as tmux:
        first = seen_at(tmux, "Chat")
        tmux.send("@@", literal=True)  # the prompt has focus from the first frame
        echoed = seen_at(tmux, "@@")
        ready = seen_at(tmux, "running")
        tmux.send("C-q")
    return {"first_frame": first - t0, "interactive": echoed - t0, "engine_ready": ready - t0}


def key_latencies(home: Path, keys: int, rate: float) -> list[float]:
    """Milliseconds from ``send-keys`` to the key on screen, under the signal load."""
    script = str(REPO / "bench" / "tui_under_load.py")
    cmd = command(script, "--home", str(home), "--rate", str(rate))
    with TmuxSession(cmd, env_for(home), WIDTH, HEIGHT) as tmux:
        seen_at(tmux, "running")
        time.sleep(2.0)  # let the load settle in
        typed = MARK
        samples = []
        alphabet = string.ascii_lowercase
        tmux.send(MARK, literal=True)
        seen_at(tmux, MARK)
        for i in range(keys):
            if len(typed) >= 24:  # keep the prompt on one line: clear it (ctrl+u)
                tmux.send("C-u")
                time.sleep(0.2)
                typed = MARK
                tmux.send(MARK, literal=True)
                seen_at(tmux, MARK)
            key = alphabet[i % len(alphabet)]
            typed += key
            t0 = time.perf_counter()
            tmux.send(key, literal=True)
            seen = seen_at(tmux, typed, timeout=10)
            samples.append((seen - t0) * 1000)
            time.sleep(0.05)
        tmux.send("C-q")
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--starts", type=int, default=5, help="start-ups to time")
    parser.add_argument("--keys", type=int, default=60, help="keystrokes to time")
    parser.add_argument("--rate", type=float, default=200.0, help="signals per second")
    args = parser.parse_args()
    if not tmux_available():
        raise SystemExit("bench_tui needs tmux (apt-get install tmux)")
    with tempfile.TemporaryDirectory(prefix="bench-tui-") as tmp:
        starts = [one_start(Path(tmp) / f"start{i}") for i in range(args.starts)]
        for name in ("first_frame", "interactive", "engine_ready"):
            values = [s[name] for s in starts]
            print(f"{name:>13}: median {statistics.median(values):.2f} s "
                  f"(min {min(values):.2f}, max {max(values):.2f}) over {len(values)} starts")
        samples = key_latencies(Path(tmp) / "load", args.keys, args.rate)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    median = statistics.median(samples)
    print(f"keypress-to-echo at {args.rate:.0f} signals/s: median {median:.1f} ms, "
          f"p95 {p95:.1f} ms, max {samples[-1]:.1f} ms over {len(samples)} keys "
          f"(includes ~{POLL_S * 1000:.0f} ms polling)")


if __name__ == "__main__":
    main()
