"""Client for Ollama's native ``/api/chat`` (NDJSON streaming).

Content streams as ``message.content`` deltas; tool calls arrive whole in
``message.tool_calls``; the last line has ``done: true`` with token counts
and durations (nanoseconds). Constrained output uses ``format`` = JSON schema.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from engine.llm.base import ChatRequest, ChatResult, DeltaCallback, Timings, Usage
from engine.llm.errors import MalformedResponse, ProviderHTTPError
from engine.llm.http_support import (
    HttpProviderBase,
    auth_headers,
    load_json_line,
    read_api_key,
    stream_lines,
)
from engine.llm.results import NativeToolCall, build_result
from engine.llm.streaming import StreamCollector, text_filter_for
from engine.llm.wire import (
    ToolStrategy,
    native_tool_names,
    openai_tools,
    output_schema,
    tool_strategy,
    uses_envelope_text,
    wire_messages,
)

DEFAULT_OLLAMA_URL = "http://127.0.0.1:11434"
_FINAL_STATS = (
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


def ollama_chat_url(base_url: str) -> str:
    """The chat endpoint for a base URL given with or without ``/api``.

    Args:
        base_url: e.g. ``http://127.0.0.1:11434``.

    Returns:
        ``{base}/api/chat``.
    """
    base = base_url.rstrip("/")
    if base.endswith("/api"):
        base = base[: -len("/api")]
    return f"{base}/api/chat"


class OllamaProvider(HttpProviderBase):
    """Streams chats from an Ollama server."""

    def __init__(
        self,
        model: str,
        base_url: str = DEFAULT_OLLAMA_URL,
        *,
        api_key_env: str | None = None,
        name: str = "ollama",
        keep_alive: str | None = None,
        num_ctx: int | None = None,
        client: httpx.Client | None = None,
    ) -> None:
        """Create a client (no connection is made until the first call).

        Args:
            model: the Ollama model tag, e.g. ``qwen2.5:1.5b``.
            base_url: the server.
            api_key_env: environment variable with a Bearer key (for a proxy or
                a hosted Ollama); None for a local server.
            name: the provider's name in results and errors.
            keep_alive: how long Ollama keeps the model loaded (e.g. ``"30m"``).
            num_ctx: context window to request.
            client: an httpx client to reuse (then not closed by this provider).
        """
        super().__init__(
            ollama_chat_url(base_url), model, api_key_env=api_key_env, name=name, client=client
        )
        self._keep_alive = keep_alive
        self._num_ctx = num_ctx

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Run one streamed chat.

        Args:
            request: what to ask.
            on_delta: receives visible text as it streams.
            cancel: set it to stop early (finish_reason "cancelled").

        Returns:
            The result; native tool calls are mapped onto the envelope.

        Raises:
            ProviderUnavailable: connection refused or dropped; model not pulled.
            ProviderTimeout: the read timeout or the overall deadline passed.
            RateLimited: HTTP 429.
            ProviderHTTPError: another error status, or an error line in the stream.
            MalformedResponse: a line was not JSON, or the stream ended without ``done``.
        """
        strategy = tool_strategy(request)
        constrained = uses_envelope_text(strategy)
        wire_names = native_tool_names(request) if strategy == "native" else {}
        body = self._body(request, strategy, wire_names)
        secret = read_api_key(self._api_key_env)
        collector = StreamCollector(
            self._name,
            on_delta,
            cancel,
            request.options.timeout_s,
            text_filter_for(strategy),
        )
        calls: list[NativeToolCall] = []
        final: dict[str, Any] = {}
        lines = stream_lines(
            self._client,
            self._url,
            body,
            auth_headers(secret),
            collector.remaining_s(),
            self._name,
            secret,
        )
        for _, line in lines:
            collector.check_deadline()
            if collector.cancelled:
                final = {"done_reason": "cancelled"}
                lines.close()
                break
            if not line.strip():
                continue
            chunk = load_json_line(self._name, line, secret)
            self._feed(chunk, collector, calls)
            if chunk.get("done"):
                final = {key: chunk[key] for key in _FINAL_STATS if key in chunk}
                final["done"] = True
                final["model"] = chunk.get("model")
        if not final:
            raise MalformedResponse("stream ended without a 'done' line", self._name)
        return build_result(
            request,
            text=collector.text,
            provider=self._name,
            model=str(final.get("model") or self._model),
            raw={"request": body, "response": self._response(collector.text, calls, final)},
            timings=_timings(final, collector.ttft_ms(), collector.elapsed_ms()),
            usage=_usage(final),
            finish_reason=final.get("done_reason"),
            native_calls=calls,
            wire_names=wire_names,
            constrained=constrained,
        )

    def _feed(
        self, chunk: dict[str, Any], collector: StreamCollector, calls: list[NativeToolCall]
    ) -> None:
        if "error" in chunk:
            raise ProviderHTTPError(f"error in stream: {str(chunk['error'])[:300]}", self._name)
        message = chunk.get("message") or {}
        if not isinstance(message, dict):
            raise MalformedResponse("'message' is not an object", self._name)
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if not isinstance(function, dict) or not function.get("name"):
                raise MalformedResponse("tool call without a function name", self._name)
            arguments = function.get("arguments") or {}
            calls.append(NativeToolCall(str(function["name"]), arguments, call.get("id")))
            collector.mark_token()
        content = message.get("content") or ""
        if not isinstance(content, str):
            raise MalformedResponse("'message.content' is not a string", self._name)
        collector.add_text(content)

    def _body(
        self, request: ChatRequest, strategy: ToolStrategy, wire_names: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self._model, "stream": True}
        body["messages"] = wire_messages(request, strategy, wire_names, ollama=True)
        if strategy == "native" and request.tool_choice != "none":
            body["tools"] = openai_tools(request, wire_names)
        schema = output_schema(request, strategy)
        if schema is not None:
            body["format"] = schema
        options: dict[str, Any] = {}
        if request.options.temperature is not None:
            options["temperature"] = request.options.temperature
        if request.options.max_tokens is not None:
            options["num_predict"] = request.options.max_tokens
        if request.options.seed is not None:
            options["seed"] = request.options.seed
        if request.options.stop:
            options["stop"] = list(request.options.stop)
        if self._num_ctx is not None:
            options["num_ctx"] = self._num_ctx
        if options:
            body["options"] = options
        if self._keep_alive is not None:
            body["keep_alive"] = self._keep_alive
        return body

    @staticmethod
    def _response(text: str, calls: list[NativeToolCall], final: dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if calls:
            message["tool_calls"] = [
                {"function": {"name": call.name, "arguments": call.arguments}} for call in calls
            ]
        return {**final, "message": message}


def _usage(final: dict[str, Any]) -> Usage | None:
    if "prompt_eval_count" not in final and "eval_count" not in final:
        return None
    return Usage(
        tokens_in=int(final.get("prompt_eval_count") or 0),
        tokens_out=int(final.get("eval_count") or 0),
    )


def _timings(final: dict[str, Any], ttft_ms: float | None, total_ms: float) -> Timings:
    return Timings(
        ttft_ms=ttft_ms,
        total_ms=total_ms,
        prefill_tok_s=_rate(final.get("prompt_eval_count"), final.get("prompt_eval_duration")),
        decode_tok_s=_rate(final.get("eval_count"), final.get("eval_duration")),
    )


def _rate(count: object, duration_ns: object) -> float | None:
    if not isinstance(count, int | float) or not isinstance(duration_ns, int | float):
        return None
    if duration_ns <= 0:
        return None
    return float(count) / (float(duration_ns) / 1e9)
