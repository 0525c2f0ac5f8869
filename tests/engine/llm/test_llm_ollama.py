"""The Ollama client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine.llm.base import (
    ChatMessage,
    ChatOptions,
    ChatRequest,
    TextDelta,
    ToolCallRecord,
    ToolSpec,
)
from engine.llm.envelope import MessageEnvelope, ToolCallEnvelope
from engine.llm.errors import (
    MalformedResponse,
    ProviderHTTPError,
    ProviderTimeout,
    ProviderUnavailable,
    RateLimited,
)
from engine.llm.ollama import OllamaProvider, ollama_chat_url
from tests.engine.llm.requests import ask as base_ask
from tests.fakes.llm_server import FakeLLMServer, Reply, Status, free_port

CLOCK = ToolSpec(name="clock.now", description="The current time.")


@pytest.fixture
def provider(server: FakeLLMServer) -> Iterator[OllamaProvider]:
    client = OllamaProvider("qwen2.5:1.5b", server.url, keep_alive="30m", num_ctx=4096)
    yield client
    client.close()


SAMPLING = ChatOptions(timeout_s=5.0, temperature=0.2, max_tokens=64, seed=7, stop=["\n\n"])


def ask(text: str = "hi", **kwargs: Any) -> ChatRequest:
    """A request carrying every sampling option, so the body mapping is exercised."""
    return base_ask(text, kwargs.pop("options", SAMPLING), **kwargs)


def test_url_with_or_without_api() -> None:
    assert ollama_chat_url("http://h:11434/") == "http://h:11434/api/chat"
    assert ollama_chat_url("http://h:11434/api") == "http://h:11434/api/chat"


def test_streams_ndjson_and_reads_counts_and_rates(
    server: FakeLLMServer, provider: OllamaProvider
) -> None:
    server.script(Reply("Good evening operator", usage=(50, 10)))
    deltas: list[TextDelta] = []
    result = provider.chat(ask(), on_delta=deltas.append)
    assert "".join(d.text for d in deltas) == "Good evening operator" and len(deltas) == 3
    assert (result.usage.tokens_in, result.usage.tokens_out) == (50, 10)
    assert result.timings.prefill_tok_s == pytest.approx(100.0)  # 50 tokens in 0.5 s
    assert result.timings.decode_tok_s == pytest.approx(40.0)  # 10 tokens in 0.25 s
    assert result.finish_reason == "stop" and result.provider == "ollama"
    body = server.requests[0].body
    assert body["options"] == {
        "temperature": 0.2,
        "num_predict": 64,
        "seed": 7,
        "stop": ["\n\n"],
        "num_ctx": 4096,
    }
    assert body["keep_alive"] == "30m" and body["stream"] is True
    json.dumps(result.raw)


def test_native_tool_call_maps_onto_the_envelope(
    server: FakeLLMServer, provider: OllamaProvider
) -> None:
    server.script(Reply(tool=("clock__now", {"tz": "UTC"})))
    result = provider.chat(ask("what time is it?", tools=[CLOCK]))
    assert result.envelope == ToolCallEnvelope(name="clock.now", args={"tz": "UTC"})
    assert server.requests[0].body["tools"][0]["function"]["name"] == "clock__now"


def test_text_with_tools_is_a_message(server: FakeLLMServer, provider: OllamaProvider) -> None:
    server.script(Reply("No tool needed."))
    result = provider.chat(ask(tools=[CLOCK]))
    assert result.envelope == MessageEnvelope(content="No tool needed.")


def test_tool_history_uses_ollama_shape(server: FakeLLMServer, provider: OllamaProvider) -> None:
    server.script(Reply("It is noon."))
    request = ChatRequest(
        messages=[
            ChatMessage(role="user", content="time?"),
            ChatMessage(role="assistant", tool_call=ToolCallRecord(name="clock.now")),
            ChatMessage(role="tool", name="clock.now", content="12:00"),
        ],
        tools=[CLOCK],
    )
    provider.chat(request)
    messages = server.requests[0].body["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {"name": "clock__now", "arguments": {}}
    assert messages[2]["tool_name"] == "clock__now"


def test_constrained_output_uses_format_schema(
    server: FakeLLMServer, provider: OllamaProvider
) -> None:
    server.script(Reply('{"type": "tool_call", "name": "clock.now", "args": {}}'))
    result = provider.chat(ask(tools=[CLOCK], tool_mode="constrained"))
    assert result.envelope == ToolCallEnvelope(name="clock.now")
    body = server.requests[0].body
    assert body["format"]["anyOf"][0]["properties"]["name"]["enum"] == ["clock.now"]
    assert "tools" not in body


def test_response_schema_without_tools_is_sent_as_format(
    server: FakeLLMServer, provider: OllamaProvider
) -> None:
    schema = {"type": "object", "properties": {"summary": {"type": "string"}}}
    server.script(Reply('{"summary": "ok"}'))
    result = provider.chat(ask(response_schema=schema))
    assert server.requests[0].body["format"] == schema
    assert json.loads(result.text) == {"summary": "ok"} and result.envelope is None


def test_model_not_pulled_is_unavailable(server: FakeLLMServer, provider: OllamaProvider) -> None:
    server.script(Status(404, {"error": 'model "qwen2.5:1.5b" not found, try pulling it first'}))
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())


def test_error_statuses_and_timeouts(server: FakeLLMServer, provider: OllamaProvider) -> None:
    server.script(Status(429, retry_after=3), Status(500), Reply("slow", delay_s=2.0))
    with pytest.raises(RateLimited) as limited:
        provider.chat(ask())
    assert limited.value.retry_after_s == 3.0
    with pytest.raises(ProviderHTTPError):
        provider.chat(ask())
    with pytest.raises(ProviderTimeout):
        provider.chat(ask(options=ChatOptions(timeout_s=0.3)))


def test_malformed_line_and_missing_done(server: FakeLLMServer, provider: OllamaProvider) -> None:
    server.script(Reply("a b c", malformed_after=1), Reply("a b c", drop_after=2))
    with pytest.raises(MalformedResponse):
        provider.chat(ask())
    with pytest.raises((MalformedResponse, ProviderUnavailable)):
        provider.chat(ask())


def test_connection_refused_is_unavailable() -> None:
    provider = OllamaProvider("m", f"http://127.0.0.1:{free_port()}")
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())
    provider.close()
