"""Assembling OpenAI-style chat completion chunks into one response.

Used by the OpenAI-compatible HTTP client and by the embedded model (whose
xllamacpp server speaks the same chunk format through a callback).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.llm.base import Timings, Usage
from engine.llm.errors import MalformedResponse, ProviderHTTPError
from engine.llm.results import NativeToolCall


@dataclass
class _ToolCallParts:
    id: str | None = None
    name: str = ""
    arguments: list[str] = field(default_factory=list)


class OpenAIStreamAssembler:
    """Accumulates ``chat.completion.chunk`` objects (content, tool calls, usage)."""

    def __init__(self, provider: str) -> None:
        self._provider = provider
        self._tool_calls: dict[int, _ToolCallParts] = {}
        self.content: list[str] = []
        self.finish_reason: str | None = None
        self.usage: dict[str, Any] | None = None
        self.timings: dict[str, Any] | None = None
        self.model: str | None = None
        self.response_id: str | None = None
        self.chunk_count = 0

    def feed(self, chunk: dict[str, Any]) -> tuple[str, bool]:
        """Consume one chunk.

        Args:
            chunk: a decoded chunk.

        Returns:
            ``(content_delta, saw_tool_call_delta)``.

        Raises:
            ProviderHTTPError: the chunk is an error object.
            MalformedResponse: the chunk does not have the expected shape.
        """
        self.chunk_count += 1
        if "error" in chunk:
            raise _error_chunk(self._provider, chunk["error"])
        self.model = chunk.get("model") or self.model
        self.response_id = chunk.get("id") or self.response_id
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        if isinstance(chunk.get("timings"), dict):
            self.timings = chunk["timings"]
        choices = chunk.get("choices")
        if choices is None:
            return "", False
        if not isinstance(choices, list):
            raise MalformedResponse("chunk 'choices' is not a list", self._provider)
        if not choices:
            return "", False
        choice = choices[0]
        if not isinstance(choice, dict):
            raise MalformedResponse("chunk choice is not an object", self._provider)
        self.finish_reason = choice.get("finish_reason") or self.finish_reason
        delta = choice.get("delta") or choice.get("message") or {}
        if not isinstance(delta, dict):
            raise MalformedResponse("chunk delta is not an object", self._provider)
        text = delta.get("content") or ""
        if not isinstance(text, str):
            raise MalformedResponse("chunk content is not a string", self._provider)
        if text:
            self.content.append(text)
        saw_tool = self._feed_tool_calls(delta.get("tool_calls"))
        return text, saw_tool

    def _feed_tool_calls(self, calls: object) -> bool:
        if not calls:
            return False
        if not isinstance(calls, list):
            raise MalformedResponse("'tool_calls' is not a list", self._provider)
        for position, call in enumerate(calls):
            if not isinstance(call, dict):
                raise MalformedResponse("tool call is not an object", self._provider)
            index = call.get("index", position)
            parts = self._tool_calls.setdefault(int(index), _ToolCallParts())
            parts.id = call.get("id") or parts.id
            function = call.get("function") or {}
            if function.get("name") and not parts.name:
                parts.name = str(function["name"])
            arguments = function.get("arguments")
            if isinstance(arguments, dict):
                parts.arguments = [json.dumps(arguments)]
            elif arguments:
                parts.arguments.append(str(arguments))
        return True

    @property
    def text(self) -> str:
        """All content received."""
        return "".join(self.content)

    def native_calls(self) -> list[NativeToolCall]:
        """The assembled tool calls, in index order."""
        return [
            NativeToolCall(parts.name, "".join(parts.arguments), parts.id)
            for _, parts in sorted(self._tool_calls.items())
            if parts.name
        ]

    def usage_model(self) -> Usage | None:
        """Token usage from the usage block or llama.cpp timings; None when absent."""
        if self.usage:
            details = self.usage.get("prompt_tokens_details") or {}
            return Usage(
                tokens_in=int(self.usage.get("prompt_tokens") or 0),
                tokens_out=int(self.usage.get("completion_tokens") or 0),
                cached_tokens=details.get("cached_tokens"),
            )
        if self.timings:
            cached = int(self.timings.get("cache_n") or 0)
            return Usage(
                tokens_in=int(self.timings.get("prompt_n") or 0) + cached,
                tokens_out=int(self.timings.get("predicted_n") or 0),
                cached_tokens=cached,
            )
        return None

    def timings_model(self, ttft_ms: float | None, total_ms: float) -> Timings:
        """Timings, with llama.cpp's prefill/decode rates when the server sent them."""
        timings = self.timings or {}
        return Timings(
            ttft_ms=ttft_ms,
            total_ms=total_ms,
            prefill_tok_s=timings.get("prompt_per_second"),
            decode_tok_s=timings.get("predicted_per_second"),
        )

    def response(self) -> dict[str, Any]:
        """The equivalent non-streamed ``chat.completion`` object (kept as the raw response)."""
        message: dict[str, Any] = {"role": "assistant", "content": self.text}
        calls = self.native_calls()
        if calls:
            message["tool_calls"] = [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments},
                }
                for call in calls
            ]
        response: dict[str, Any] = {
            "id": self.response_id,
            "object": "chat.completion",
            "model": self.model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "chunks": self.chunk_count,
        }
        if self.usage is not None:
            response["usage"] = self.usage
        if self.timings is not None:
            response["timings"] = self.timings
        return response


def _error_chunk(provider: str, error: object) -> ProviderHTTPError:
    if isinstance(error, dict):
        status = error.get("code")
        message = str(error.get("message") or error)
        return ProviderHTTPError(
            f"error in stream: {message[:300]}",
            provider,
            status=status if isinstance(status, int) and status >= 400 else 500,
        )
    return ProviderHTTPError(f"error in stream: {str(error)[:300]}", provider, status=500)

