"""A provider that answers from a script: tests, demos and turn replay.

Each call takes the next item of a queue:

* a ``str``: the model's raw text (run through the same envelope repair as real output),
* a ``dict``: an envelope, e.g. ``{"type": "tool_call", "name": "clock.now", "args": {}}``,
* a :class:`ScriptedReply`: text or envelope with a delay, or an error to raise,
* an ``Exception``: raised as is,
* a :class:`ChatResult` (or its dict form): returned as recorded, for deterministic replay.

Nothing here is random; delays use an injectable ``sleep``.
"""

from __future__ import annotations

import collections
import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from engine.errors import CephalonError
from engine.llm.base import ChatRequest, ChatResult, DeltaCallback, TextDelta, Timings
from engine.llm.errors import ProviderUnavailable
from engine.llm.results import build_result
from engine.llm.streaming import EnvelopeContentStreamer, StreamCollector

_WORDS = re.compile(r"\s*\S+\s*|\s+")


@dataclass(frozen=True)
class ScriptedReply:
    """One scripted answer.

    Attributes:
        text: raw model text (ignored when ``envelope`` is given).
        envelope: an envelope dict, sent as its JSON text.
        delay_s: sleep this long before answering.
        error: raise this instead of answering (after the delay).
        finish_reason: reported finish reason.
    """

    text: str = ""
    envelope: dict[str, Any] | None = None
    delay_s: float = 0.0
    error: Exception | None = None
    finish_reason: str = "stop"


ScriptItem: TypeAlias = str | dict[str, Any] | ScriptedReply | Exception | ChatResult


class ScriptExhausted(ProviderUnavailable):
    """The script has no reply left for this call."""


class ScriptedProvider:
    """Replies from a queue of scripted items, in order, deterministically."""

    def __init__(
        self,
        script: Iterable[ScriptItem] = (),
        *,
        name: str = "scripted",
        model: str = "scripted",
        sleep: Callable[[float], None] = time.sleep,
        echo_when_exhausted: bool = False,
    ) -> None:
        """Create a provider.

        Args:
            script: the replies, in order.
            name: the provider name in results.
            model: the model name in results.
            sleep: used for ``ScriptedReply.delay_s`` (inject a fake in tests).
            echo_when_exhausted: once the script is used up, answer ``echo: <last user
                message>`` instead of raising :class:`ScriptExhausted` (demos).
        """
        self._echo = echo_when_exhausted
        self._queue: collections.deque[ScriptItem] = collections.deque(script)
        self._name = name
        self._model = model
        self._sleep = sleep
        self._lock = threading.Lock()
        self.requests: list[ChatRequest] = []
        """Every request received, in order (for assertions)."""

    @classmethod
    def from_recorded(
        cls, results: Iterable[ChatResult | dict[str, Any]], name: str = "replay"
    ) -> ScriptedProvider:
        """A provider that returns recorded results, for replaying a turn.

        Args:
            results: recorded ChatResults, or their ``model_dump()`` dicts.
            name: the provider name.

        Returns:
            The provider.
        """
        items: list[ScriptItem] = [
            item if isinstance(item, ChatResult) else ChatResult.model_validate(item)
            for item in results
        ]
        return cls(items, name=name, model="replay")

    @property
    def name(self) -> str:
        """The provider name."""
        return self._name

    @property
    def model(self) -> str:
        """The model name."""
        return self._model

    @property
    def remaining(self) -> int:
        """How many scripted replies are left."""
        with self._lock:
            return len(self._queue)

    def push(self, *items: ScriptItem) -> None:
        """Append replies to the script.

        Args:
            items: more script items.
        """
        with self._lock:
            self._queue.extend(items)

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Answer with the next scripted item.

        Args:
            request: recorded in ``self.requests``.
            on_delta: receives the text word by word (message content only for envelopes).
            cancel: checked between words.

        Returns:
            The scripted (or recorded) result.

        Raises:
            ScriptExhausted: no reply left.
            Exception: whatever error the script says to raise.
        """
        with self._lock:
            self.requests.append(request)
            if not self._queue and self._echo:
                last = next(
                    (m.content for m in reversed(request.messages) if m.role == "user"), ""
                )
                self._queue.append({"type": "message", "content": f"echo: {last}"})
            if not self._queue:
                message = f"no scripted reply left for call {len(self.requests)}"
                raise ScriptExhausted(message, self._name)
            item = self._queue.popleft()
        if isinstance(item, ChatResult):
            return self._replay(item, on_delta)
        if isinstance(item, Exception):
            raise item
        reply = _as_reply(item)
        if reply.delay_s > 0:
            if cancel is not None and self._sleep is time.sleep:
                cancel.wait(reply.delay_s)  # a stop does not wait out a scripted pause
            else:
                self._sleep(reply.delay_s)
        if cancel is not None and cancel.is_set():
            return self._answer(request, "", "cancelled", on_delta, cancel)
        if reply.error is not None:
            raise reply.error
        text = json.dumps(reply.envelope) if reply.envelope is not None else reply.text
        return self._answer(request, text, reply.finish_reason, on_delta, cancel)

    def close(self) -> None:
        """Nothing to release."""

    def _answer(
        self,
        request: ChatRequest,
        text: str,
        finish_reason: str,
        on_delta: DeltaCallback | None,
        cancel: threading.Event | None,
    ) -> ChatResult:
        constrained = request.expects_envelope
        collector = StreamCollector(
            self._name, on_delta, cancel, request.options.timeout_s,
            EnvelopeContentStreamer() if constrained and text.lstrip().startswith("{") else None,
        )
        for word in _WORDS.findall(text):
            if collector.cancelled:
                finish_reason = "cancelled"
                break
            collector.add_text(word)
        return build_result(
            request,
            text=collector.text,
            provider=self._name,
            model=self._model,
            raw={"script": collector.text},
            timings=Timings(ttft_ms=collector.ttft_ms(), total_ms=collector.elapsed_ms()),
            finish_reason=finish_reason,
            constrained=constrained,
        )

    def _replay(self, recorded: ChatResult, on_delta: DeltaCallback | None) -> ChatResult:
        if on_delta is not None and recorded.text:
            on_delta(TextDelta(recorded.text, self._name))
        return recorded.model_copy(deep=True)


def load_script_file(path: Path) -> ScriptedProvider:
    """A scripted provider from a JSON file (``CEPHALON_SCRIPT_FILE``).

    The file holds either a list of replies or ``{"replies": [...], "then": "echo"}``.
    A reply is a string (raw model text), an envelope object (``{"type": "message",
    "content": ...}`` or a tool call), or ``{"text"|"envelope": ..., "delay_s": N}``.

    Args:
        path: the file.

    Returns:
        The provider.

    Raises:
        CephalonError: the file is missing or malformed.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CephalonError(f"script file {path}: {exc}") from None
    then = "error"
    if isinstance(data, dict):
        then = str(data.get("then", "error"))
        data = data.get("replies", [])
    if not isinstance(data, list) or then not in ("echo", "error"):
        raise CephalonError(f"script file {path}: expected a list or {{'replies': [...]}}")
    items: list[ScriptItem] = []
    for item in data:
        if isinstance(item, dict) and ("delay_s" in item or "text" in item):
            items.append(
                ScriptedReply(
                    text=str(item.get("text", "")),
                    envelope=item.get("envelope"),
                    delay_s=float(item.get("delay_s", 0.0)),
                )
            )
        elif isinstance(item, str | dict):
            items.append(item)
        else:
            raise CephalonError(f"script file {path}: a reply must be a string or an object")
    return ScriptedProvider(items, echo_when_exhausted=then == "echo")


def _as_reply(item: str | dict[str, Any] | ScriptedReply) -> ScriptedReply:
    if isinstance(item, ScriptedReply):
        return item
    if isinstance(item, dict):
        return ScriptedReply(envelope=item)
    return ScriptedReply(text=item)
