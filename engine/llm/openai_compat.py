"""Client for any OpenAI-compatible ``/v1/chat/completions`` server (SSE streaming).

Works with OpenAI itself, llama.cpp's server, vLLM, LM Studio, Ollama's
``/v1`` endpoint and the like. The API key is read from the environment
variable named in config at call time, sent as a Bearer header, and never
logged, stored in ``raw`` or put in an error message.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from engine.llm.base import ChatRequest, ChatResult, DeltaCallback
from engine.llm.errors import MalformedResponse
from engine.llm.http_support import (
    HttpProviderBase,
    auth_headers,
    load_json_line,
    read_api_key,
    stream_lines,
)
from engine.llm.openai_stream import OpenAIStreamAssembler
from engine.llm.results import build_result
from engine.llm.streaming import StreamCollector, text_filter_for
from engine.llm.wire import (
    ToolStrategy,
    native_tool_names,
    openai_sampling_fields,
    openai_tools,
    output_schema,
    tool_strategy,
    uses_envelope_text,
    wire_messages,
)


def chat_completions_url(base_url: str) -> str:
    """The chat completions endpoint for a base URL given with or without ``/v1``.

    Args:
        base_url: e.g. ``http://127.0.0.1:8080`` or ``https://api.openai.com/v1/``.

    Returns:
        ``{base}/v1/chat/completions``.
    """
    base = base_url.rstrip("/")
    if not base.endswith("/v1"):
        base += "/v1"
    return f"{base}/chat/completions"


class OpenAICompatProvider(HttpProviderBase):
    """Streams chat completions from an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key_env: str | None = None,
        name: str = "openai_compat",
        client: httpx.Client | None = None,
    ) -> None:
        """Create a client (no connection is made until the first call).

        Args:
            base_url: the server, with or without ``/v1``.
            model: the model name to request.
            api_key_env: name of the environment variable holding the API key.
            name: the provider's name in results, errors and the turn record.
            client: an httpx client to reuse (the provider then does not close it).
        """
        super().__init__(
            chat_completions_url(base_url), model, api_key_env=api_key_env, name=name, client=client
        )

    def chat(
        self,
        request: ChatRequest,
        on_delta: DeltaCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> ChatResult:
        """Run one streamed chat completion.

        Args:
            request: what to ask.
            on_delta: receives visible text as it streams.
            cancel: set it to stop early (the result then has finish_reason "cancelled").

        Returns:
            The result; native tool calls and JSON output are mapped onto the envelope.

        Raises:
            ProviderUnavailable: connection refused or dropped, model missing.
            ProviderTimeout: the read timeout or the overall deadline passed.
            RateLimited: HTTP 429 (with the Retry-After seconds).
            ProviderHTTPError: any other HTTP error status.
            MalformedResponse: a stream line was not valid JSON or had the wrong shape.
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
        assembler = OpenAIStreamAssembler(self._name)
        finish: str | None = None
        done = False
        json_body: list[str] = []
        lines = stream_lines(
            self._client,
            self._url,
            body,
            auth_headers(secret),
            collector.remaining_s(),
            self._name,
            secret,
        )
        for content_type, line in lines:
            collector.check_deadline()
            if collector.cancelled:
                finish = "cancelled"
                lines.close()
                break
            if content_type.startswith("application/json"):  # the server ignored "stream"
                json_body.append(line)
                continue
            if not line.startswith("data:"):
                continue  # SSE comments, event names, blank separators
            payload = line[5:].strip()
            if payload == "[DONE]":
                done = True
                continue
            self._feed(assembler, collector, load_json_line(self._name, payload, secret))
        if json_body:
            self._feed(assembler, collector, load_json_line(self._name, "".join(json_body), secret))
        if finish is None and not done and assembler.finish_reason is None:
            raise MalformedResponse("stream ended before the answer was complete", self._name)
        return build_result(
            request,
            text=assembler.text,
            provider=self._name,
            model=assembler.model or self._model,
            raw={"request": body, "response": assembler.response()},
            timings=assembler.timings_model(collector.ttft_ms(), collector.elapsed_ms()),
            usage=assembler.usage_model(),
            finish_reason=finish or assembler.finish_reason,
            native_calls=assembler.native_calls(),
            wire_names=wire_names,
            constrained=constrained,
        )

    @staticmethod
    def _feed(
        assembler: OpenAIStreamAssembler, collector: StreamCollector, chunk: dict[str, Any]
    ) -> None:
        text, saw_tool = assembler.feed(chunk)
        if saw_tool:
            collector.mark_token()
        collector.add_text(text)

    def _body(
        self, request: ChatRequest, strategy: ToolStrategy, wire_names: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        body["messages"] = wire_messages(request, strategy, wire_names, ollama=False)
        if strategy == "native" and request.tool_choice != "none":
            body["tools"] = openai_tools(request, wire_names)
            if request.tool_choice == "required":
                body["tool_choice"] = "required"
        schema = output_schema(request, strategy)
        if schema is not None:
            schema_name = "envelope" if strategy == "constrained" else "response"
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": schema_name, "schema": schema},
            }
        body.update(openai_sampling_fields(request.options))
        return body
