"""The OpenAI-compatible client against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator

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
from engine.llm.openai_compat import OpenAICompatProvider, chat_completions_url
from tests.engine.llm.requests import ask
from tests.fakes.llm_server import Drop, FakeLLMServer, Reply, Status, free_port

SECRET = "sk-test-0123456789abcdef"
SEARCH = ToolSpec(
    name="memory.search",
    description="Search memory.",
    parameters={"type": "object", "properties": {"query": {"type": "string"}}},
)


@pytest.fixture
def provider(
    server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OpenAICompatProvider]:
    monkeypatch.setenv("TEST_LLM_KEY", SECRET)
    client = OpenAICompatProvider(server.url, "fake-model", api_key_env="TEST_LLM_KEY")
    yield client
    client.close()


def test_base_url_with_or_without_v1() -> None:
    assert chat_completions_url("http://h:1") == "http://h:1/v1/chat/completions"
    assert chat_completions_url("http://h:1/v1/") == "http://h:1/v1/chat/completions"


def test_streams_text_deltas_and_reports_usage(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("Hello there, operator", usage=(30, 4)))
    deltas: list[TextDelta] = []
    result = provider.chat(ask(), on_delta=deltas.append)
    assert [d.text for d in deltas] == ["Hello ", "there, ", "operator"]
    assert result.text == "Hello there, operator"
    usage = result.usage
    assert (usage.tokens_in, usage.tokens_out, usage.estimated) == (30, 4, False)
    assert result.finish_reason == "stop"
    assert result.envelope is None  # no tools: plain chat
    assert result.timings.ttft_ms is not None and result.timings.total_ms >= result.timings.ttft_ms
    assert (result.provider, result.model) == ("openai_compat", "fake-model")
    json.dumps(result.raw)  # replayable: JSON-serializable
    body = server.requests[0].body
    assert body["stream"] is True and body["stream_options"] == {"include_usage": True}


def test_usage_is_estimated_when_the_server_sends_none(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("one two three four", usage=None))
    result = provider.chat(ask("a question of some length"))
    assert result.usage.estimated and result.usage.tokens_out > 0


def test_native_tool_call_is_assembled_and_mapped_onto_the_envelope(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply(tool=("memory__search", {"query": "sister birthday"})))
    deltas: list[TextDelta] = []
    result = provider.chat(ask("when is her birthday?", tools=[SEARCH]), on_delta=deltas.append)
    assert result.envelope == ToolCallEnvelope(
        name="memory.search", args={"query": "sister birthday"}, call_id="call_1"
    )
    assert result.repairs == [] and deltas == []
    sent = server.requests[0].body
    assert sent["tools"][0]["function"]["name"] == "memory__search"  # API-safe wire name


def test_malformed_native_arguments_are_repaired(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply(tool=("memory__search", {}), arguments_text="{'query': 'x',}"))
    result = provider.chat(ask(tools=[SEARCH]))
    assert result.envelope == ToolCallEnvelope(
        name="memory.search", args={"query": "x"}, call_id="call_1"
    )
    assert "single_quotes" in result.repairs


def test_text_answer_with_tools_is_a_message_envelope(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("Just chatting."))
    result = provider.chat(ask(tools=[SEARCH]))
    assert result.envelope == MessageEnvelope(content="Just chatting.")
    assert result.repairs == []


def test_tool_history_is_sent_in_openai_shape(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("She was born in March."))
    request = ChatRequest(
        messages=[
            ChatMessage(role="user", content="when?"),
            ChatMessage(
                role="assistant",
                tool_call=ToolCallRecord(name="memory.search", args={"query": "b"}, id="call_9"),
            ),
            ChatMessage(role="tool", name="memory.search", tool_call_id="call_9", content="March"),
        ],
        tools=[SEARCH],
    )
    provider.chat(request)
    messages = server.requests[0].body["messages"]
    assert messages[1]["tool_calls"][0] == {
        "id": "call_9",
        "type": "function",
        "function": {"name": "memory__search", "arguments": '{"query": "b"}'},
    }
    assert messages[2] == {"role": "tool", "content": "March", "tool_call_id": "call_9"}


def test_constrained_mode_sends_the_envelope_schema_and_streams_message_content(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply('{"type": "message", "content": "All quiet."}'))
    deltas: list[TextDelta] = []
    result = provider.chat(ask(tools=[SEARCH], tool_mode="constrained"), on_delta=deltas.append)
    assert result.envelope == MessageEnvelope(content="All quiet.")
    assert "".join(d.text for d in deltas) == "All quiet."
    body = server.requests[0].body
    assert "tools" not in body
    assert body["response_format"]["json_schema"]["schema"]["anyOf"][0]["properties"]["name"] == {
        "type": "string",
        "enum": ["memory.search"],
    }
    assert "memory.search" in body["messages"][0]["content"]


def test_api_key_is_sent_but_never_in_raw_or_errors(
    server: FakeLLMServer, provider: OpenAICompatProvider, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.script(
        Reply("ok"),
        Status(401, {"error": {"message": f"Incorrect API key provided: {SECRET}"}}),
    )
    result = provider.chat(ask())
    assert server.requests[0].headers["Authorization"] == f"Bearer {SECRET}"
    assert SECRET not in json.dumps(result.model_dump(mode="json"))
    with pytest.raises(ProviderHTTPError) as raised:
        provider.chat(ask())
    assert raised.value.status == 401
    assert SECRET not in str(raised.value) and "***" in str(raised.value)
    assert SECRET not in caplog.text
    assert SECRET not in repr(provider)


def test_no_key_configured_sends_no_authorization(server: FakeLLMServer) -> None:
    server.script(Reply("ok"))
    with OpenAICompatProviderClosing(server.url) as provider:
        provider.chat(ask())
    assert "Authorization" not in server.requests[0].headers


class OpenAICompatProviderClosing(OpenAICompatProvider):
    def __init__(self, url: str) -> None:
        super().__init__(url, "m")

    def __enter__(self) -> OpenAICompatProvider:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def test_read_timeout_raises_provider_timeout(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("late", delay_s=2.0))
    with pytest.raises(ProviderTimeout):
        provider.chat(ask(options=ChatOptions(timeout_s=0.3)))


def test_overall_deadline_applies_to_a_trickling_stream(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Reply("a b c d e f g h i j", chunk_delay_s=0.1))
    with pytest.raises(ProviderTimeout):
        provider.chat(ask(options=ChatOptions(timeout_s=0.45)))


def test_429_raises_rate_limited_with_retry_after(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Status(429, retry_after=7))
    with pytest.raises(RateLimited) as raised:
        provider.chat(ask())
    assert raised.value.retry_after_s == 7.0


def test_5xx_raises_http_error(server: FakeLLMServer, provider: OpenAICompatProvider) -> None:
    server.script(Status(503))
    with pytest.raises(ProviderHTTPError) as raised:
        provider.chat(ask())
    assert raised.value.status == 503 and raised.value.retryable


def test_missing_model_is_unavailable(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Status(404, {"error": {"message": "The model `nope` does not exist"}}))
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())


def test_malformed_json_chunk_raises(server: FakeLLMServer, provider: OpenAICompatProvider) -> None:
    server.script(Reply("a b c", malformed_after=2))
    with pytest.raises(MalformedResponse):
        provider.chat(ask())


def test_dropped_connection_is_unavailable(
    server: FakeLLMServer, provider: OpenAICompatProvider
) -> None:
    server.script(Drop(), Reply("a b c d", drop_after=2))
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())


def test_connection_refused_is_unavailable() -> None:
    provider = OpenAICompatProvider(f"http://127.0.0.1:{free_port()}", "m")
    with pytest.raises(ProviderUnavailable):
        provider.chat(ask())
    provider.close()


def test_cancel_stops_the_stream(server: FakeLLMServer, provider: OpenAICompatProvider) -> None:
    server.script(Reply("one two three four five six", chunk_delay_s=0.05))
    cancel = threading.Event()

    def on_delta(delta: TextDelta) -> None:
        if delta.text.startswith("two"):
            cancel.set()

    result = provider.chat(ask(tools=[SEARCH]), on_delta=on_delta, cancel=cancel)
    assert result.finish_reason == "cancelled"
    assert result.text.startswith("one two") and "six" not in result.text
    assert result.envelope is None and result.envelope_error == "generation was cancelled"


def test_server_ignoring_stream_returns_plain_json(
    server: FakeLLMServer, provider: OpenAICompatProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = provider._body

    def no_stream(*args: object, **kwargs: object) -> dict[str, object]:
        body = original(*args, **kwargs)  # type: ignore[arg-type]
        body["stream"] = False
        return body

    monkeypatch.setattr(provider, "_body", no_stream)
    server.script(Reply("whole answer", usage=(3, 2)))
    result = provider.chat(ask())
    assert result.text == "whole answer" and result.usage.tokens_in == 3
