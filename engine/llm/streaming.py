"""Bookkeeping shared by every streaming provider.

:class:`StreamCollector` times the first token, forwards visible text to the
caller's callback, and checks cancellation and the overall deadline.
:class:`EnvelopeContentStreamer` makes constrained JSON output watchable: from
``{"type": "message", "content": "Hel`` it streams ``Hel``, and it streams
nothing for a tool call (the TUI shows the call itself when it is parsed).
:class:`ProseStreamer` does the same for unconstrained output with tools: prose
streams, a tool call written as JSON (fenced, tagged or bare) does not.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from typing import Protocol

from engine.llm.base import DeltaCallback, TextDelta
from engine.llm.errors import ProviderTimeout

_MESSAGE_PREFIX = re.compile(r'\s*\{\s*"type"\s*:\s*"message"\s*,\s*"content"\s*:\s*"')
_TYPE_VALUE = re.compile(r'"type"\s*:\s*"([^"]*)"')
_MAX_PREFIX_CHARS = 256


_TOOL_CALL_STARTS = ("{", "<tool_call>", "```json", "```JSON")


class TextFilter(Protocol):
    """Turns raw streamed output into the text a user should see."""

    def feed(self, raw: str) -> str:
        """Consume raw output; return the newly visible text."""
        ...


class ProseStreamer:
    """Stream prose; stay silent when the output turns out to be a JSON tool call."""

    def __init__(self) -> None:
        self._visible: bool | None = None
        self._buffer = ""

    def feed(self, raw: str) -> str:
        """Consume more raw output.

        Args:
            raw: the next piece of output.

        Returns:
            The newly visible text ("" while undecided or for a tool call).
        """
        if self._visible is not None:
            return raw if self._visible else ""
        self._buffer += raw
        head = self._buffer.lstrip()
        if not head:
            return ""
        if head.startswith(_TOOL_CALL_STARTS):
            self._visible = False
            return ""
        if any(start.startswith(head) for start in _TOOL_CALL_STARTS):
            return ""  # could still become "<tool_call>" or "```json"
        self._visible = True
        return self._buffer


class EnvelopeContentStreamer:
    """Extract the visible text of a message envelope from streamed JSON."""

    def __init__(self) -> None:
        self._state = "prefix"  # prefix -> content -> done, or prefix -> silent
        self._buffer = ""

    def feed(self, raw: str) -> str:
        """Consume more raw model output.

        Args:
            raw: the next piece of the JSON text.

        Returns:
            The newly visible message text (often "").
        """
        if self._state in ("done", "silent"):
            return ""
        self._buffer += raw
        if self._state == "prefix":
            match = _MESSAGE_PREFIX.match(self._buffer)
            if match is None:
                kind = _TYPE_VALUE.search(self._buffer)
                if (kind and kind.group(1) != "message") or len(self._buffer) > _MAX_PREFIX_CHARS:
                    self._state = "silent"
                return ""
            self._state = "content"
            self._buffer = self._buffer[match.end() :]
        return self._decode()

    def _decode(self) -> str:
        text, index = self._buffer, 0
        out: list[str] = []
        while index < len(text):
            char = text[index]
            if char == '"':
                self._state = "done"
                self._buffer = ""
                return "".join(out)
            if char != "\\":
                out.append(char)
                index += 1
                continue
            escape = _escape_length(text, index)
            if escape == 0:  # incomplete escape: wait for more text
                break
            try:
                out.append(json.loads('"' + text[index : index + escape] + '"'))
            except ValueError:
                out.append(text[index : index + escape])
            index += escape
        self._buffer = text[index:]
        return "".join(out)


def _escape_length(text: str, index: int) -> int:
    """Length of the escape sequence at ``index``, or 0 if it is not complete yet."""
    if index + 1 >= len(text):
        return 0
    if text[index + 1] != "u":
        return 2
    if index + 6 > len(text):
        return 0
    code = int(text[index + 2 : index + 6], 16) if _is_hex(text[index + 2 : index + 6]) else 0
    if 0xD800 <= code <= 0xDBFF:  # high surrogate: the low one follows
        return 12 if index + 12 <= len(text) else 0
    return 6


def _is_hex(value: str) -> bool:
    return all(char in "0123456789abcdefABCDEF" for char in value) and len(value) == 4


class StreamCollector:
    """Times a stream, forwards visible text, and enforces cancel and deadline."""

    def __init__(
        self,
        provider: str,
        on_delta: DeltaCallback | None,
        cancel: threading.Event | None,
        timeout_s: float,
        content_streamer: TextFilter | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self._on_delta = on_delta
        self._cancel = cancel
        self._monotonic = monotonic
        self._streamer = content_streamer
        self.started = monotonic()
        self.deadline = self.started + timeout_s
        self.first_token_at: float | None = None
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        """All raw text received so far."""
        return "".join(self.parts)

    @property
    def cancelled(self) -> bool:
        """True once the caller set the cancel event."""
        return self._cancel is not None and self._cancel.is_set()

    def remaining_s(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self.deadline - self._monotonic())

    def check_deadline(self) -> None:
        """Raise when the overall deadline has passed.

        Raises:
            ProviderTimeout: the deadline passed.
        """
        if self._monotonic() > self.deadline:
            raise ProviderTimeout("no complete answer before the deadline", self.provider)

    def mark_token(self) -> None:
        """Record that output started (text or a tool-call fragment)."""
        if self.first_token_at is None:
            self.first_token_at = self._monotonic()

    def add_text(self, raw: str) -> None:
        """Record raw output and forward its visible part to the caller.

        Args:
            raw: a piece of the model's text output.
        """
        if not raw:
            return
        self.mark_token()
        self.parts.append(raw)
        visible = self._streamer.feed(raw) if self._streamer is not None else raw
        if visible and self._on_delta is not None:
            self._on_delta(TextDelta(visible, self.provider))

    def ttft_ms(self) -> float | None:
        """Milliseconds from the start of the call to the first output, if any."""
        if self.first_token_at is None:
            return None
        return (self.first_token_at - self.started) * 1000.0

    def elapsed_ms(self) -> float:
        """Milliseconds since the call started."""
        return (self._monotonic() - self.started) * 1000.0


def text_filter_for(strategy: str) -> TextFilter | None:
    """The filter that makes a tool strategy's raw output watchable.

    Args:
        strategy: "constrained", "prompted", "native" or "none".

    Returns:
        A fresh filter, or None when the raw text is what the user should see.
    """
    if strategy in ("constrained", "prompted"):
        return EnvelopeContentStreamer()
    if strategy in ("native", "hybrid"):
        return ProseStreamer()
    return None
