"""LocalProvider's logic (strategies, hybrid retry, cancel, deadline) with a stand-in server.

The stand-in replaces ``xllamacpp.Server``: it replays scripted OpenAI chunks
through the same callback API, so these tests need neither the model nor xllamacpp.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any

import pytest

from engine.llm import local
from engine.llm.base import ChatOptions, TextDelta, ToolSpec
from engine.llm.envelope import MessageEnvelope, ToolCallEnvelope
from engine.llm.errors import ProviderHTTPError, ProviderTimeout
from engine.llm.local import LoadState, LocalProvider
from tests.engine.llm.requests import ask

SEARCH = ToolSpec(
    name="memory.search",
    parameters={
        "type": "object",
        "properties": {"query": {"type": "string"}},
        "required": ["query"],
    },
)


def chunks(text: str, pieces: int = 3) -> list[dict[str, Any]]:
    size = max(1, len(text) // pieces)
    parts = [text[i : i + size] for i in range(0, len(text), size)]
    out: list[dict[str, Any]] = [
        {"choices": [{"index": 0, "delta": {"content": part}}]} for part in parts
    ]
    out.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    out.append(
        {
            "choices": [],
            "usage": {
                "prompt_tokens": 40,
                "completion_tokens": 9,
                "prompt_tokens_details": {"cached_tokens": 30},
            },
            "timings": {"prompt_per_second": 60.0, "predicted_per_second": 25.0},
        }
    )
    return out


class StandInServer:
    def __init__(self, script: list[list[dict[str, Any]] | Exception]) -> None:
        self.script = collections.deque(script)
        self.bodies: list[dict[str, Any]] = []

    def handle_chat_completions(self, body: dict[str, Any], callback: Any) -> None:
        self.bodies.append(body)
        item = self.script.popleft()
        if isinstance(item, Exception):
            raise item
        for chunk in item:
            if callback(chunk):
                return


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StandInServer:
    server = StandInServer([])

    def fake_load(*args: object, **kwargs: object) -> StandInServer:
        return server

    monkeypatch.setattr(local, "load_server", fake_load)
    return server


def provider_for(tmp_path: Path) -> LocalProvider:
    provider = LocalProvider(tmp_path / "any.gguf", model_name="stand-in")
    assert provider.wait_ready(5) is LoadState.READY
    return provider


def test_plain_chat_streams_and_reports_llama_timings(
    stand_in: StandInServer, tmp_path: Path
) -> None:
    stand_in.script.append(chunks("Hello operator."))
    provider = provider_for(tmp_path)
    deltas: list[TextDelta] = []
    result = provider.chat(ask(), on_delta=deltas.append)
    assert "".join(d.text for d in deltas) == result.text == "Hello operator."
    assert result.usage.cached_tokens == 30 and result.timings.decode_tok_s == 25.0
    body = stand_in.bodies[0]
    assert body["cache_prompt"] is True and body["stream"] is True
    assert "tools" not in body and "response_format" not in body
    assert provider.status().load_s is not None


def test_auto_tools_use_the_template_and_parse_the_json_call(
    stand_in: StandInServer, tmp_path: Path
) -> None:
    fenced = '```json\n{"name": "memory__search", "arguments": {"query": "q"}}\n```'
    stand_in.script.append(chunks(fenced))
    provider = provider_for(tmp_path)
    deltas: list[TextDelta] = []
    result = provider.chat(ask(tools=[SEARCH]), on_delta=deltas.append)
    assert result.envelope == ToolCallEnvelope(name="memory.search", args={"query": "q"})
    assert deltas == []  # a tool call is not shown as text
    assert stand_in.bodies[0]["tools"][0]["function"]["name"] == "memory__search"
    assert len(stand_in.bodies) == 1


def test_a_botched_call_is_regenerated_under_a_schema_with_the_same_prompt(
    stand_in: StandInServer, tmp_path: Path
) -> None:
    stand_in.script.extend(
        [
            chunks('{"name": "memory__search", "arguments": {"query": "q" + x}}'),
            chunks('{"name": "memory__search", "arguments": {"query": "sister"}}'),
        ]
    )
    provider = provider_for(tmp_path)
    result = provider.chat(ask(tools=[SEARCH]))
    assert result.envelope == ToolCallEnvelope(name="memory.search", args={"query": "sister"})
    assert "constrained_retry" in result.repairs
    first, retry = stand_in.bodies
    assert retry["messages"] == first["messages"]  # same prompt: the cache applies
    schema = retry["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["name"]["enum"] == ["memory__search"]
    assert result.usage.tokens_in == 80 and "retry" in result.raw


def test_prose_with_tools_is_a_message_and_streams(stand_in: StandInServer, tmp_path: Path) -> None:
    stand_in.script.append(chunks("Nothing to look up."))
    provider = provider_for(tmp_path)
    deltas: list[TextDelta] = []
    result = provider.chat(ask(tools=[SEARCH]), on_delta=deltas.append)
    assert result.envelope == MessageEnvelope(content="Nothing to look up.")
    assert "".join(d.text for d in deltas) == "Nothing to look up."


def test_required_tool_choice_uses_the_envelope_schema(
    stand_in: StandInServer, tmp_path: Path
) -> None:
    stand_in.script.append(
        chunks('{"type": "tool_call", "name": "memory.search", "args": {"query": "q"}}')
    )
    provider = provider_for(tmp_path)
    result = provider.chat(ask(tools=[SEARCH], tool_choice="required"))
    assert result.envelope == ToolCallEnvelope(name="memory.search", args={"query": "q"})
    body = stand_in.bodies[0]
    assert "tools" not in body
    assert body["response_format"]["json_schema"]["schema"]["properties"]["type"] == {
        "const": "tool_call"
    }


def test_cancel_stops_generation(stand_in: StandInServer, tmp_path: Path) -> None:
    stand_in.script.append(chunks("one two three four five six", pieces=6))
    provider = provider_for(tmp_path)
    cancel = threading.Event()
    result = provider.chat(ask(), on_delta=lambda delta: cancel.set(), cancel=cancel)
    assert result.finish_reason == "cancelled" and len(result.text) < 10


def test_deadline_and_errors(stand_in: StandInServer, tmp_path: Path) -> None:
    stand_in.script.extend([chunks("late answer"), ValueError("bad body")])
    provider = provider_for(tmp_path)
    with pytest.raises(ProviderTimeout):
        provider.chat(ask(options=ChatOptions(timeout_s=0.0)))
    with pytest.raises(ProviderHTTPError) as raised:
        provider.chat(ask())
    assert raised.value.status == 400


def test_a_failing_delta_callback_is_not_swallowed(stand_in: StandInServer, tmp_path: Path) -> None:
    stand_in.script.append(chunks("text"))
    provider = provider_for(tmp_path)

    def broken(delta: TextDelta) -> None:
        raise KeyError("ui bug")

    with pytest.raises(KeyError):
        provider.chat(ask(), on_delta=broken)
