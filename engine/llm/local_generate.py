"""Generation on the in-process xllamacpp server: the body, one pass, and the retry pass."""

from __future__ import annotations

from typing import Any

from engine.llm.base import ChatRequest, ChatResult, Usage
from engine.llm.errors import ProviderHTTPError, ProviderTimeout
from engine.llm.json_repair import parse_json_object
from engine.llm.openai_stream import OpenAIStreamAssembler
from engine.llm.results import NativeToolCall, envelope_from_native_calls
from engine.llm.streaming import StreamCollector
from engine.llm.wire import (
    ToolStrategy,
    native_call_schema,
    openai_sampling_fields,
    openai_tools,
    output_schema,
    wire_messages,
)


def generate(
    server: Any, body: dict[str, Any], collector: StreamCollector, provider: str
) -> tuple[OpenAIStreamAssembler, str | None]:
    """Run one streamed chat completion through xllamacpp's callback API.

    The callback runs in this thread for each chunk; returning True stops
    generation, which is how cancel and the deadline are honoured.

    Args:
        server: the ``xllamacpp.Server``.
        body: an OpenAI-style chat body with ``"stream": true``.
        collector: receives text; its cancel event and deadline are checked per chunk.
        provider: the provider name for errors.

    Returns:
        ``(assembler, stop)``: stop is "cancelled", "timeout", or None when the
        model finished on its own.

    Raises:
        ProviderHTTPError: llama.cpp rejected the body (400) or failed (500).
        Exception: whatever the caller's delta callback raised.
    """
    assembler = OpenAIStreamAssembler(provider)
    outcome: dict[str, Any] = {"stop": None, "error": None}

    def on_chunk(chunk: Any) -> bool:
        try:
            if collector.cancelled:
                outcome["stop"] = "cancelled"
                return True
            if collector.remaining_s() <= 0:
                outcome["stop"] = "timeout"
                return True
            text, saw_tool = assembler.feed(chunk)
            if saw_tool:
                collector.mark_token()
            collector.add_text(text)
            return False
        except BaseException as exc:  # xllamacpp swallows callback errors: keep it
            outcome["error"] = exc
            return True

    try:
        server.handle_chat_completions(body, on_chunk)
    except ValueError as exc:
        raise ProviderHTTPError(f"request rejected: {exc}", provider, status=400) from None
    except RuntimeError as exc:
        raise ProviderHTTPError(f"llama.cpp failed: {exc}", provider, status=500) from None
    if outcome["error"] is not None:
        raise outcome["error"]
    return assembler, outcome["stop"]


def chat_body(
    request: ChatRequest, strategy: ToolStrategy, wire_names: dict[str, str], per_tool_args: bool
) -> dict[str, Any]:
    """The xllamacpp chat body for a request.

    Args:
        request: the request.
        strategy: the tool strategy (native/hybrid declare tools to the chat template).
        wire_names: ``{wire_name: our_name}``.
        per_tool_args: constrain each tool's args to its own schema.

    Returns:
        The body, with prompt caching on and usage in the final chunk.
    """
    body: dict[str, Any] = {
        "stream": True,
        "stream_options": {"include_usage": True},
        "cache_prompt": True,
        "messages": wire_messages(request, strategy, wire_names, ollama=False),
    }
    if strategy in ("native", "hybrid") and request.tool_choice != "none":
        body["tools"] = openai_tools(request, wire_names)
    schema = output_schema(request, strategy, per_tool_args)
    if schema is not None:
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "envelope", "schema": schema},
        }
    body.update(openai_sampling_fields(request.options))
    return body


def regenerate_tool_call(
    server: Any,
    request: ChatRequest,
    body: dict[str, Any],
    first: ChatResult,
    collector: StreamCollector,
    wire_names: dict[str, str],
    per_tool_args: bool,
) -> ChatResult:
    """Redo a tool call the model botched, under a tool-call schema.

    The prompt is the same as the first pass, so llama.cpp's prompt cache makes
    the second prefill nearly free; only the output is now grammar-bound.

    Args:
        server: the ``xllamacpp.Server``.
        request: the request.
        body: the first pass's body (native tools, no schema).
        first: the first pass's result (no envelope).
        collector: the first pass's collector (for the deadline and total time).
        wire_names: ``{wire_name: our_name}``.
        per_tool_args: constrain each tool's arguments to its own schema.

    Returns:
        The first result updated with the regenerated call (repair tag
        ``constrained_retry``), or with the retry's error added.

    Raises:
        ProviderTimeout: the deadline passed.
        ProviderHTTPError: llama.cpp rejected or failed the request.
    """
    provider = first.provider
    schema = native_call_schema(request, wire_names, per_tool_args)
    json_schema = {"name": "tool_call", "schema": schema}
    retry_body = {**body, "response_format": {"type": "json_schema", "json_schema": json_schema}}
    retry = StreamCollector(provider, None, None, collector.remaining_s())
    assembler, stop = generate(server, retry_body, retry, provider)
    if stop == "timeout":
        raise ProviderTimeout("generation did not finish before the deadline", provider)
    repairs = [*first.repairs, "constrained_retry"]
    data, error = parse_json_object(assembler.text, repairs)
    if data is None:
        message = f"{first.envelope_error}; retry: {error}"
        return first.model_copy(update={"envelope_error": message})
    call = NativeToolCall(str(data.get("name", "")), data.get("arguments") or {})
    names = [tool.name for tool in request.tools]
    repaired = envelope_from_native_calls([call], names, wire_names)
    usage = assembler.usage_model() or Usage(estimated=True)
    return first.model_copy(
        update={
            "text": assembler.text,
            "envelope": repaired.envelope,
            "envelope_error": repaired.error,
            "repairs": [*repairs, *repaired.repairs],
            "usage": Usage(
                tokens_in=first.usage.tokens_in + usage.tokens_in,
                tokens_out=first.usage.tokens_out + usage.tokens_out,
                cached_tokens=usage.cached_tokens,
                estimated=first.usage.estimated or usage.estimated,
            ),
            "timings": first.timings.model_copy(update={"total_ms": collector.elapsed_ms()}),
            "raw": {
                **first.raw,
                "retry": {"request": retry_body, "response": assembler.response()},
            },
        }
    )
