"""The scripted provider: queued replies, delays, errors, replay of recorded results."""

from __future__ import annotations

import pytest

from engine.llm.base import ChatMessage, ChatRequest, TextDelta, ToolSpec
from engine.llm.envelope import MessageEnvelope, ToolCallEnvelope
from engine.llm.errors import ProviderTimeout
from engine.llm.scripted import ScriptedProvider, ScriptedReply, ScriptExhausted

TOOLS = [ToolSpec(name="clock.now")]


def ask(text: str = "hi", tools: list[ToolSpec] | None = None) -> ChatRequest:
    return ChatRequest(messages=[ChatMessage(role="user", content=text)], tools=tools or [])


def test_replies_in_order_and_records_requests() -> None:
    provider = ScriptedProvider(
        ["Hello there.", {"type": "tool_call", "name": "clock.now", "args": {}}]
    )
    first = provider.chat(ask("one"))
    second = provider.chat(ask("two", TOOLS))
    assert first.text == "Hello there." and first.envelope is None
    assert second.envelope == ToolCallEnvelope(name="clock.now")
    assert [r.messages[0].content for r in provider.requests] == ["one", "two"]
    with pytest.raises(ScriptExhausted):
        provider.chat(ask())


def test_message_envelopes_stream_their_content_word_by_word() -> None:
    provider = ScriptedProvider([{"type": "message", "content": "All systems nominal."}])
    deltas: list[TextDelta] = []
    result = provider.chat(ask(tools=TOOLS), on_delta=deltas.append)
    assert result.envelope == MessageEnvelope(content="All systems nominal.")
    assert "".join(d.text for d in deltas) == "All systems nominal."


def test_scripted_malformed_output_goes_through_repair() -> None:
    fenced = "```json\n{'type': 'tool_call', 'name': 'clock.nw', 'args': {}}\n```"
    provider = ScriptedProvider([fenced])
    result = provider.chat(ask(tools=TOOLS))
    assert result.envelope == ToolCallEnvelope(name="clock.now")
    assert result.repairs == ["fenced_json", "single_quotes", "tool_name:clock.nw->clock.now"]


def test_delay_uses_the_injected_sleep_and_errors_are_raised() -> None:
    slept: list[float] = []
    provider = ScriptedProvider(
        [
            ScriptedReply(text="late", delay_s=2.5),
            ScriptedReply(error=ProviderTimeout("too slow", "scripted"), delay_s=1.0),
            RuntimeError("bug"),
        ],
        sleep=slept.append,
    )
    assert provider.chat(ask()).text == "late"
    with pytest.raises(ProviderTimeout):
        provider.chat(ask())
    with pytest.raises(RuntimeError):
        provider.chat(ask())
    assert slept == [2.5, 1.0]


def test_replay_returns_recorded_results_exactly() -> None:
    live = ScriptedProvider([{"type": "tool_call", "name": "clock.now", "args": {}}, "Noon."])
    recorded = [live.chat(ask(tools=TOOLS)), live.chat(ask())]
    dumped = [result.model_dump(mode="json") for result in recorded]
    replay = ScriptedProvider.from_recorded(dumped)
    again = [replay.chat(ask(tools=TOOLS)), replay.chat(ask())]
    assert again == recorded
    assert replay.remaining == 0
