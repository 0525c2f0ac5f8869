"""The plain-terminal chat REPL over any console backend (in-process or a daemon).

Each line is queued with ``submit``; the reply streams as the engine's turn runs.
Slash commands: ``/state`` (engine status and the last cognitive state report),
``/cost`` (session and 24 h), ``/pause``, ``/resume``, ``/why`` (the memories in
the last context and why each was chosen), ``/unlock [MINUTES]``, ``/quit``.
"""

from __future__ import annotations

import queue
import sys
from collections.abc import Callable
from typing import Any, TextIO

from engine.backend import ConsoleBackend
from engine.errors import CephalonError
from engine.signals import (
    CognitiveState,
    ContextRetrieved,
    EngineError,
    LlmDelta,
    Signal,
    TurnCommitted,
    TurnStarted,
)

HELP = "type a message; /state /cost /why /pause /resume /unlock [MIN] /help /quit (Ctrl-D leaves)"


class ChatRepl:
    """Reads lines, queues them, streams the replies, answers slash commands."""

    def __init__(
        self,
        backend: ConsoleBackend,
        *,
        read_line: Callable[[str], str] = input,
        out: TextIO | None = None,
        reply_timeout: float = 600.0,
    ) -> None:
        """Create a REPL.

        Args:
            backend: the engine to talk to.
            read_line: reads one line (raises EOFError at the end).
            out: where to write (default stdout).
            reply_timeout: give up waiting for a reply after this many seconds.
        """
        self.backend = backend
        self.read_line = read_line
        self.out = out or sys.stdout
        self.reply_timeout = reply_timeout
        self.signals: queue.Queue[Signal] = queue.Queue()
        self.mine: set[int] = set()
        """Candidate ids submitted here whose turn has not committed yet."""
        self.turn_of: dict[int, int] = {}
        self.last_report = ""
        self.last_context: list[dict[str, Any]] = []
        self._unsubscribe = backend.subscribe(self.signals.put)

    def write(self, text: str) -> None:
        self.out.write(text)
        self.out.flush()

    def run(self) -> None:
        """Loop until /quit or end of input."""
        self.write(f"cephalon chat: {HELP}\n")
        try:
            while True:
                try:
                    line = self.read_line("you> ").strip()
                except (EOFError, KeyboardInterrupt):
                    self.write("\n")
                    return
                self.drain(block=False)
                if not line:
                    continue
                if line.startswith("/"):
                    if not self.command(line):
                        return
                    continue
                self.send(line)
        finally:
            self._unsubscribe()

    def send(self, text: str) -> None:
        """Queue a message and stream its reply (unless the engine is paused)."""
        self.mine.add(self.backend.submit(text))
        if self.backend.status().get("state") == "paused":
            self.write("(queued: the engine is paused; /resume to let it answer)\n")
            return
        self.drain(block=True)

    def drain(self, *, block: bool) -> None:
        """Handle signals; with ``block``, until every queued message of ours is answered."""
        while True:
            if block and not self.mine:
                return
            try:
                signal = (
                    self.signals.get(timeout=self.reply_timeout)
                    if block
                    else (self.signals.get_nowait())
                )
            except queue.Empty:
                if block:
                    self.write("(no reply yet; it will show when it comes)\n")
                return
            except KeyboardInterrupt:
                self.write("\n(stopped waiting; the turn goes on in the engine)\n")
                return
            self.handle(signal)

    def handle(self, signal: Signal) -> None:
        """Show what concerns this chat; remember the latest state report and context."""
        if isinstance(signal, TurnStarted) and signal.candidate_id in self.mine:
            assert signal.turn_id is not None
            self.turn_of[signal.turn_id] = signal.candidate_id
            self.write("cephalon> ")
        elif isinstance(signal, LlmDelta) and signal.turn_id in self.turn_of:
            self.write(signal.text)
        elif isinstance(signal, CognitiveState):
            self.last_report = signal.report
        elif isinstance(signal, ContextRetrieved):
            self.last_context = signal.memories
        elif isinstance(signal, EngineError):
            self.write(f"\n(engine error in {signal.stage}: {signal.error})\n")
        elif isinstance(signal, TurnCommitted) and signal.turn_id in self.turn_of:
            self.mine.discard(self.turn_of.pop(signal.turn_id))
            if signal.output is None:
                self.write(f"(no reply: {signal.stop_reason})\n")
            else:
                self.write("\n")

    def command(self, line: str) -> bool:
        """Run a slash command. Returns False to leave."""
        name, _, arg = line.partition(" ")
        if name in ("/quit", "/exit"):
            return False
        try:
            if name == "/state":
                status = self.backend.status()
                self.write("".join(f"  {k}: {v}\n" for k, v in status.items()))
                self.write((self.last_report or "(no state report yet)") + "\n")
            elif name == "/cost":
                status = self.backend.status()
                self.write(
                    f"  session: ${status.get('cost_session_usd', 0):.6f}   "
                    f"24 h: ${status.get('cost_24h_usd', 0):.6f}\n"
                )
            elif name == "/pause":
                self.backend.pause()
                self.write("(paused: messages are queued, not answered)\n")
            elif name == "/resume":
                self.backend.resume()
                self.write("(running)\n")
                self.drain(block=True)
            elif name == "/why":
                self.write(_why(self.last_context))
            elif name == "/unlock":
                until = self.backend.unlock(float(arg) if arg.strip() else None)
                self.write(f"(write tools unlocked until {until})\n")
            elif name == "/help":
                self.write(HELP + "\n")
            else:
                self.write(f"unknown command {name}; {HELP}\n")
        except (CephalonError, ValueError) as exc:
            self.write(f"error: {exc}\n")
        return True


def _why(context: list[dict[str, Any]]) -> str:
    if not context:
        return "(the last context had no memories)\n"
    lines = []
    for item in context:
        explain = item.get("explain") or {}
        parts = ", ".join(
            f"{key}={explain[key]}"
            for key in ("bm25_rank", "ann_rank", "rerank", "weight_mean", "recency")
            if explain.get(key) is not None
        )
        lines.append(
            f"  #{item['id']} [{item.get('kind')}] score {item.get('score', 0):.3f}: "
            f"{str(item.get('content', ''))[:80]}\n    {parts}\n"
        )
    return "".join(lines)
