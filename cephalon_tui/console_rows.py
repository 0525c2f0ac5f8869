"""The rows the console model keeps: chat entries, tool calls, attention, gut readings."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from engine.signals import CandidateView


@dataclass
class ChatEntry:
    """One line of the chat panel."""

    role: str
    """``you`` (the operator), ``cephalon`` (a reply), ``input`` (another source's
    input that took a turn) or ``note`` (engine errors, console notices)."""
    text: str
    source: str = "operator"
    turn_id: int | None = None
    candidate_id: int | None = None
    streaming: bool = False
    status: str = ""
    """For the operator's lines: ``sending``, ``queued``, ``answered`` or an error."""


@dataclass
class ToolRow:
    """One tool call as the log shows it."""

    call_id: int
    tool: str
    scope: str
    args: dict[str, Any] | None
    """None when the call was denied before it started (the signal carries no args)."""
    turn_id: int | None = None
    status: str = "running"
    duration_ms: float | None = None
    attempts: int = 0
    reason: str | None = None
    """Why it was denied, or the error it ended with."""
    replayed: bool = False

    @property
    def args_summary(self) -> str:
        """The arguments as one short line (``—`` when unknown)."""
        return "—" if self.args is None else summarize_args(self.args)


@dataclass
class AttentionRow:
    """A candidate with how its salience moved since the previous round."""

    candidate: CandidateView
    change: float | None
    """Salience now minus salience last round (None: new this round)."""


@dataclass
class GutPoint:
    """One gut delta reading."""

    index: int
    turn_id: int | None
    intensity: float
    charge: float


def summarize_args(args: dict[str, Any], width: int = 60) -> str:
    """Arguments as compact JSON, cut to ``width`` characters.

    Args:
        args: the call's arguments.
        width: the longest summary.

    Returns:
        The summary.
    """
    text = json.dumps(args, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"
