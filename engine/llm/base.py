"""The provider protocol and the request/result models every provider shares.

A caller builds a :class:`ChatRequest`, calls ``provider.chat(request,
on_delta=..., cancel=...)`` in a worker thread, receives text deltas through
the callback as they stream, and gets one :class:`ChatResult` at the end. The
result carries the parsed output envelope (see :mod:`engine.llm.envelope`),
token usage, timings and the raw wire exchange for replay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict, Field

from engine.llm.envelope import Envelope

Role = Literal["system", "user", "assistant", "tool"]
ToolMode = Literal["auto", "native", "constrained", "prompted", "hybrid"]
ToolChoice = Literal["auto", "required", "none"]


class ToolCallRecord(BaseModel):
    """A tool call an assistant message made (for replaying a conversation to a provider)."""

    model_config = ConfigDict(frozen=True)

    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    id: str | None = None
    """The provider's call id, when it gave one (OpenAI ``call_...``)."""


class ChatMessage(BaseModel):
    """One message of a conversation."""

    model_config = ConfigDict(frozen=True)

    role: Role
    content: str = ""
    tool_call: ToolCallRecord | None = None
    """For ``role="assistant"``: the tool call this message made."""
    tool_call_id: str | None = None
    """For ``role="tool"``: the id of the call this message answers."""
    name: str | None = None
    """For ``role="tool"``: the name of the tool that produced this result."""


class ToolSpec(BaseModel):
    """A tool the model may call: its name, what it does, its JSON-schema parameters."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}}
    )


class ChatOptions(BaseModel):
    """Sampling and transport options; None means "the provider's default"."""

    model_config = ConfigDict(frozen=True)

    temperature: float | None = None
    max_tokens: int | None = None
    seed: int | None = None
    stop: list[str] = Field(default_factory=list)
    timeout_s: float = 120.0
    """Overall deadline for the call, including waiting for a local model to load."""


class ChatRequest(BaseModel):
    """What to ask a provider."""

    model_config = ConfigDict(frozen=True)

    messages: list[ChatMessage]
    tools: list[ToolSpec] = Field(default_factory=list)
    response_schema: dict[str, Any] | None = None
    """A JSON schema the output must follow (constrained decoding where supported)."""
    options: ChatOptions = Field(default_factory=ChatOptions)
    tool_mode: ToolMode = "auto"
    """How tools reach the model: "native" (the provider's tool API),
    "constrained" (the envelope described in the system prompt and enforced with
    a JSON schema), "prompted" (described only, not enforced), "hybrid" (native
    first; a tool call that cannot be parsed is regenerated under a schema; only
    the embedded model does this, others treat it as native). "auto" lets the
    provider choose: native for Ollama / OpenAI-compatible servers, hybrid for
    the embedded model (constrained when ``tool_choice="required"``)."""
    tool_choice: ToolChoice = "auto"
    """"required": the answer must be a tool call; "none": it must not be."""

    @property
    def expects_envelope(self) -> bool:
        """True when the caller wants the output parsed into an envelope."""
        return bool(self.tools) or self.tool_mode in ("constrained", "prompted")


class Usage(BaseModel):
    """Token counts of one call."""

    tokens_in: int = 0
    tokens_out: int = 0
    cached_tokens: int | None = None
    """Prompt tokens served from a prompt cache, when the provider says."""
    estimated: bool = False
    """The provider gave no counts; these are estimates (about 4 characters per token)."""


class Timings(BaseModel):
    """How long a call took; rates are None when the provider does not report them."""

    ttft_ms: float | None = None
    total_ms: float = 0.0
    prefill_tok_s: float | None = None
    decode_tok_s: float | None = None


class ProviderAttempt(BaseModel):
    """One try of one provider inside a fallback chain."""

    provider: str
    outcome: Literal["ok", "failed", "skipped"]
    error_kind: str | None = None
    error: str | None = None
    elapsed_ms: float = 0.0
    waited_s: float = 0.0
    """Time slept before this try (backoff or Retry-After)."""


class ChatResult(BaseModel):
    """The final outcome of one chat call."""

    text: str
    envelope: Envelope | None = None
    repairs: list[str] = Field(default_factory=list)
    """Repairs applied to turn the output into the envelope (empty when it was clean)."""
    envelope_error: str | None = None
    """Why no envelope could be made, when one was expected."""
    finish_reason: str | None = None
    usage: Usage = Field(default_factory=Usage)
    timings: Timings = Field(default_factory=Timings)
    provider: str
    model: str
    raw: dict[str, Any] = Field(default_factory=dict)
    """The wire exchange (request body and assembled response), JSON-serializable,
    without credentials; enough to replay the call."""
    attempts: list[ProviderAttempt] = Field(default_factory=list)
    """Filled by a fallback chain: every provider tried before this result."""


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of streamed text.

    Attributes:
        text: the new text.
        provider: which provider produced it.
        attempt: increases when a fallback chain starts another try; a consumer
            showing live text should drop what an earlier attempt streamed.
    """

    text: str
    provider: str
    attempt: int = 0


DeltaCallback = Callable[[TextDelta], None]
"""Receives streamed text; called in the thread that runs ``chat``."""


@runtime_checkable
class Provider(Protocol):
    """An LLM backend: Ollama, an OpenAI-compatible server, the embedded model, a script."""

    @property
    def name(self) -> str:
        """The provider kind or configured name, e.g. ``"ollama"``."""
        ...

    @property
    def model(self) -> str:
        """The model this provider talks to."""
        ...

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Run one chat completion, streaming text as it comes.

        Args:
            request: messages, tools, schema and options.
            on_delta: called with each piece of visible text, in order. For
                constrained envelope output only a message's content is streamed.
            cancel: when set, generation stops early and the partial result is
                returned with ``finish_reason="cancelled"``.

        Returns:
            The final result, with ``envelope`` set when ``request.expects_envelope``
            and the output could be parsed (else ``envelope_error`` says why).

        Raises:
            ProviderUnavailable: cannot connect, model missing or not loaded.
            ProviderTimeout: no complete answer within ``request.options.timeout_s``.
            RateLimited: the server said 429.
            ProviderHTTPError: any other error status.
            MalformedResponse: the server broke its protocol.
        """
        ...

    def close(self) -> None:
        """Release connections, threads and model memory. Idempotent."""
        ...
