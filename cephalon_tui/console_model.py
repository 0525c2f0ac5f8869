"""What the console shows, as plain data: signals in, "which panels changed" out.

The app folds every drained signal into one :class:`ConsoleModel` (on the UI
thread) and then asks only the panels named in the returned dirty set to
re-render. Nothing here imports Textual, so it is cheap to test and reason about.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from cephalon_tui.console_rows import AttentionRow, ChatEntry, GutPoint, ToolRow
from engine.signals import (
    AttentionCandidates,
    CognitiveState,
    ContextRetrieved,
    EngineError,
    EngineState,
    GutDelta,
    JobRun,
    LlmDelta,
    Signal,
    ToolCallDenied,
    ToolCallFinished,
    ToolCallStarted,
    TurnCommitted,
    TurnStarted,
)

CHAT = "chat"
ATTENTION = "attention"
STATE = "state"
GUT = "gut"
TOOLS = "tools"
CONTEXT = "context"
STATUS = "status"
JOBS = "jobs"

MAX_CHAT = 400
MAX_TOOLS = 200
MAX_GUT = 120
MAX_JOBS = 100


@dataclass
class ConsoleModel:
    """The console's state, folded from signals and backend answers."""

    chat: list[ChatEntry] = field(default_factory=list)
    attention: list[AttentionRow] = field(default_factory=list)
    attention_winner: int | None = None
    attention_reason: str = ""
    state_report: str = ""
    state_turn: int | None = None
    gut: deque[GutPoint] = field(default_factory=lambda: deque(maxlen=MAX_GUT))
    gut_toward: list[dict[str, Any]] = field(default_factory=list)
    tools: dict[int, ToolRow] = field(default_factory=dict)
    context_query: str = ""
    context_turn: int | None = None
    context: list[dict[str, Any]] = field(default_factory=list)
    status: dict[str, Any] = field(default_factory=dict)
    engine_state: str = "starting"
    booted: bool = False
    """The backend is there: late start-up progress signals are ignored."""
    boot_detail: str = ""
    boot_progress: float | None = None
    jobs: deque[JobRun] = field(default_factory=lambda: deque(maxlen=MAX_JOBS))
    _replies: dict[int, ChatEntry] = field(default_factory=dict)
    _salience: dict[int, float] = field(default_factory=dict)
    _gut_count: int = 0

    # ------------------------------------------------------- operator input ---
    def add_operator_message(self, text: str) -> ChatEntry:
        """Show the operator's message at once (before the backend has it)."""
        entry = ChatEntry(role="you", text=text, status="sending")
        self._append(entry)
        return entry

    def add_note(self, text: str) -> None:
        """A console notice in the chat (dim)."""
        self._append(ChatEntry(role="note", text=text, source="console"))

    def clear_chat(self) -> None:
        """Start a fresh transcript (the engine's memory is untouched)."""
        self.chat.clear()
        self._replies.clear()

    def set_status(self, status: dict[str, Any]) -> set[str]:
        """Take a ``backend.status()`` answer.

        Returns:
            The panels that changed.
        """
        if status == self.status:
            return set()
        self.status = dict(status)
        if status.get("state"):
            self.engine_state = str(status["state"])
        return {STATUS}

    # -------------------------------------------------------------- signals ---
    def apply(self, signal: Signal) -> set[str]:
        """Fold one signal in.

        Args:
            signal: a drained (possibly coalesced) signal.

        Returns:
            The names of the panels whose data changed.
        """
        handler = _HANDLERS.get(type(signal))
        return handler(self, signal) if handler is not None else set()

    def apply_all(self, signals: list[Signal]) -> set[str]:
        """Fold a batch in; the union of changed panels."""
        dirty: set[str] = set()
        for signal in signals:
            dirty |= self.apply(signal)
        return dirty

    def _append(self, entry: ChatEntry) -> None:
        self.chat.append(entry)
        if len(self.chat) > MAX_CHAT:
            dropped = self.chat.pop(0)
            if dropped.turn_id is not None and self._replies.get(dropped.turn_id) is dropped:
                del self._replies[dropped.turn_id]

    def _turn_started(self, s: TurnStarted) -> set[str]:
        mine = None
        if s.source == "operator":
            waiting = [
                e for e in self.chat if e.role == "you" and e.status in ("sending", "queued")
            ]
            mine = next((e for e in waiting if e.candidate_id == s.candidate_id), None)
            mine = mine or next((e for e in waiting if e.text == s.input), None)
        if mine is None:
            role = "you" if s.source == "operator" else "input"
            mine = ChatEntry(role=role, text=s.input, source=s.source)
            self._append(mine)
        mine.turn_id, mine.status = s.turn_id, "answering"
        if s.turn_id is not None:
            reply = ChatEntry(role="cephalon", text="", turn_id=s.turn_id, streaming=True)
            self._replies[s.turn_id] = reply
            self._append(reply)
        return {CHAT}

    def _reply(self, turn_id: int | None) -> ChatEntry:
        if turn_id is not None and turn_id in self._replies:
            return self._replies[turn_id]
        reply = ChatEntry(role="cephalon", text="", turn_id=turn_id, streaming=True)
        if turn_id is not None:
            self._replies[turn_id] = reply
        self._append(reply)
        return reply

    def _delta(self, s: LlmDelta) -> set[str]:
        self._reply(s.turn_id).text += s.text
        return {CHAT}

    def _committed(self, s: TurnCommitted) -> set[str]:
        reply = self._reply(s.turn_id)
        reply.streaming = False
        reply.status = s.status
        if s.output is not None:
            reply.text = s.output
        else:
            reply.text = (reply.text + f"\n(no reply: {s.stop_reason})").strip()
        for entry in self.chat:
            if entry.role in ("you", "input") and entry.turn_id == s.turn_id:
                entry.status = "answered" if s.output is not None else s.status
        return {CHAT, STATUS}

    def _error(self, s: EngineError) -> set[str]:
        self.add_note(f"engine error in {s.stage}: {s.error}")
        return {CHAT}

    def _attention(self, s: AttentionCandidates) -> set[str]:
        rows = []
        for c in sorted(s.candidates, key=lambda c: (not c.winner, -c.salience, c.id)):
            before = self._salience.get(c.id)
            rows.append(AttentionRow(c, None if before is None else c.salience - before))
        self._salience = {c.id: c.salience for c in s.candidates}
        self.attention, self.attention_winner, self.attention_reason = rows, s.winner_id, s.reason
        return {ATTENTION}

    def _state(self, s: CognitiveState) -> set[str]:
        self.state_report, self.state_turn = s.report, s.turn_id
        return {STATE}

    def _gut(self, s: GutDelta) -> set[str]:
        self._gut_count += 1
        self.gut.append(GutPoint(self._gut_count, s.turn_id, s.intensity, s.charge))
        self.gut_toward = list(s.toward)
        return {GUT}

    def _tool_started(self, s: ToolCallStarted) -> set[str]:
        self.tools[s.call_id] = ToolRow(s.call_id, s.tool, s.scope, dict(s.args), s.turn_id)
        self._trim_tools()
        return {TOOLS}

    def _tool_finished(self, s: ToolCallFinished) -> set[str]:
        row = self.tools.setdefault(s.call_id, ToolRow(s.call_id, s.tool, s.scope, None, s.turn_id))
        row.status, row.duration_ms, row.attempts = s.status, s.duration_ms, s.attempts
        row.reason, row.replayed = s.error, s.replayed
        return {TOOLS}

    def _tool_denied(self, s: ToolCallDenied) -> set[str]:
        row = self.tools.setdefault(s.call_id, ToolRow(s.call_id, s.tool, s.scope, None, s.turn_id))
        row.status, row.reason = "denied", s.reason
        self._trim_tools()
        return {TOOLS}

    def _trim_tools(self) -> None:
        while len(self.tools) > MAX_TOOLS:
            del self.tools[next(iter(self.tools))]

    def _context(self, s: ContextRetrieved) -> set[str]:
        self.context_query, self.context_turn, self.context = s.query, s.turn_id, list(s.memories)
        return {CONTEXT}

    def _engine_state(self, s: EngineState) -> set[str]:
        if self.booted and s.state == "starting":
            return set()
        self.engine_state = s.state
        self.boot_detail, self.boot_progress = s.detail, s.progress
        self.status = {**self.status, "state": s.state}
        return {STATUS}

    def _job(self, s: JobRun) -> set[str]:
        self.jobs.appendleft(s)
        return {JOBS}


_HANDLERS: dict[type[Signal], Any] = {
    TurnStarted: ConsoleModel._turn_started,
    LlmDelta: ConsoleModel._delta,
    TurnCommitted: ConsoleModel._committed,
    EngineError: ConsoleModel._error,
    AttentionCandidates: ConsoleModel._attention,
    CognitiveState: ConsoleModel._state,
    GutDelta: ConsoleModel._gut,
    ToolCallStarted: ConsoleModel._tool_started,
    ToolCallFinished: ConsoleModel._tool_finished,
    ToolCallDenied: ConsoleModel._tool_denied,
    ContextRetrieved: ConsoleModel._context,
    EngineState: ConsoleModel._engine_state,
    JobRun: ConsoleModel._job,
}
