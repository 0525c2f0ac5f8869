"""The output envelope: schema, repair pass, native-call mapping, streaming filters."""

from __future__ import annotations

import json

import pytest

from engine.llm.base import ToolSpec
from engine.llm.envelope import (
    CancelEnvelope,
    MessageEnvelope,
    ToolCallEnvelope,
    envelope_json_schema,
    tool_instructions,
    wire_tool_names,
)
from engine.llm.envelope_repair import match_tool_name, repair_envelope
from engine.llm.results import NativeToolCall, envelope_from_native_calls
from engine.llm.streaming import EnvelopeContentStreamer, ProseStreamer

TOOLS = ["memory.search", "memory.write", "clock.now"]
SPECS = [
    ToolSpec(
        name="memory.search",
        description="Search memory.",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    ),
    ToolSpec(name="clock.now", description="The time."),
]


def test_clean_envelopes_need_no_repair() -> None:
    call = repair_envelope('{"type":"tool_call","name":"clock.now","args":{}}', TOOLS)
    assert call.envelope == ToolCallEnvelope(name="clock.now", args={})
    assert call.repairs == []
    message = repair_envelope('{"type": "message", "content": "hi"}', TOOLS)
    assert message.envelope == MessageEnvelope(content="hi")
    cancel = repair_envelope('{"type": "cancel", "reason": "nothing to do"}', TOOLS)
    assert cancel.envelope == CancelEnvelope(reason="nothing to do")


@pytest.mark.parametrize(
    ("raw", "repair"),
    [
        (
            '```json\n{"type":"tool_call","name":"memory.search","args":{"query":"x"}}\n```',
            "fenced_json",
        ),
        ("{'type': 'tool_call', 'name': 'memory.search', 'args': {'query': 'x'}}", "single_quotes"),
        ('{"type":"tool_call","name":"memory.search","args":{"query":"x",},}', "trailing_commas"),
        (
            '{"type":"tool_call","name":"memory.search","arguments":{"query":"x"}}',
            "args_key:arguments",
        ),
        (
            '{"type":"tool_call","name":"memory.search","args":"{\\"query\\": \\"x\\"}"}',
            "args_json_string",
        ),
        (
            '{"type":"tool_call","name":"memory.serch","args":{"query":"x"}}',
            "tool_name:memory.serch->memory.search",
        ),
        (
            '{"type":"tool_call","name":"memory__search","args":{"query":"x"}}',
            "tool_name:memory__search->memory.search",
        ),
        ('{"type":"tool_call","name":"memory.search","args":{"query":"x"', "closed_truncated_json"),
        (
            '<tool_call>{"name": "memory.search", "arguments": {"query": "x"}}</tool_call>',
            "tool_call_tags",
        ),
        ('{{"name": "memory.search", "arguments": {"query": "x"}}}', "double_braces"),
        (
            '{"type":"tool_call","name":"memory.search","args":{"query":"x"}}}} and so on',
            "trailing_text",
        ),
        (
            'Sure: {"type":"tool_call","name":"memory.search","args":{"query":"x"}}',
            "extracted_json",
        ),
        (
            '{"type":"function","function":{"name":"memory.search","arguments":"{\\"query\\":\\"x\\"}"}}',
            "unwrapped_function",
        ),
    ],
)
def test_each_repair_kind_yields_the_same_call(raw: str, repair: str) -> None:
    result = repair_envelope(raw, TOOLS)
    assert result.ok, result.error
    assert result.envelope == ToolCallEnvelope(name="memory.search", args={"query": "x"})
    assert repair in result.repairs


def test_single_quote_repair_keeps_python_words_inside_strings() -> None:
    raw = "{'type': 'message', 'content': \"it's None of my business, True\"}"
    result = repair_envelope(raw, TOOLS)
    assert result.envelope == MessageEnvelope(content="it's None of my business, True")
    literal = repair_envelope("{'type': 'tool_call', 'name': 'clock.now', 'args': {'utc': True}}")
    assert literal.envelope == ToolCallEnvelope(name="clock.now", args={"utc": True})


def test_prose_becomes_a_message() -> None:
    result = repair_envelope("Hello! Nice to meet you.", TOOLS)
    assert result.envelope == MessageEnvelope(content="Hello! Nice to meet you.")
    assert result.repairs == ["prose_to_message"]


def test_prose_with_a_code_fence_stays_prose() -> None:
    text = "Use this:\n```python\nprint(1)\n```"
    assert repair_envelope(text, TOOLS).envelope == MessageEnvelope(content=text)


@pytest.mark.parametrize(
    ("raw", "error_part"),
    [
        ("", "empty output"),
        ('{"type": "tool_call", "name": ', "invalid JSON"),
        ('{"type":"tool_call","name":"launch.missiles","args":{}}', "unknown tool"),
        ('{"type":"tool_call","name":"clock.now","args":"not json at all"}', "args is a string"),
        ('{"foo": 1}', "cannot tell the envelope type"),
        ('{"type":"tool_call","args":{}}', "without a tool name"),
    ],
)
def test_unrepairable_output_is_reported_not_guessed(raw: str, error_part: str) -> None:
    result = repair_envelope(raw, TOOLS)
    assert result.envelope is None
    assert result.error is not None and error_part in result.error


def test_tool_name_matching_cutoff() -> None:
    assert match_tool_name("clock.nw", TOOLS) == "clock.now"
    assert match_tool_name("Memory-Search", TOOLS) == "memory.search"
    assert match_tool_name("weather", TOOLS) is None


def test_schema_lists_tool_names_and_respects_tool_choice() -> None:
    schema = envelope_json_schema(SPECS)
    tool_branch = schema["anyOf"][0]
    assert tool_branch["properties"]["name"]["enum"] == ["memory.search", "clock.now"]
    assert [b["properties"]["type"]["const"] for b in schema["anyOf"]] == [
        "tool_call",
        "message",
        "cancel",
    ]
    required = envelope_json_schema(SPECS, tool_choice="required")
    assert required["properties"]["type"]["const"] == "tool_call"
    none = envelope_json_schema(SPECS, tool_choice="none")
    assert [b["properties"]["type"]["const"] for b in none["anyOf"]] == ["message", "cancel"]
    per_tool = envelope_json_schema(SPECS, per_tool_args=True)
    assert per_tool["anyOf"][0]["properties"]["args"]["required"] == ["query"]
    no_tools = envelope_json_schema()
    assert len(no_tools["anyOf"]) == 2


def test_instructions_name_every_tool_and_the_envelope() -> None:
    text = tool_instructions(SPECS)
    assert "memory.search(query: string): Search memory." in text
    assert '"type": "tool_call"' in text and '"type": "message"' in text


def test_wire_names_are_api_safe_and_reversible() -> None:
    mapping = wire_tool_names(["memory.search", "memory/search", "clock.now"])
    assert mapping == {
        "memory__search": "memory.search",
        "memory_search": "memory/search",
        "clock__now": "clock.now",
    }


def test_native_calls_map_onto_the_envelope() -> None:
    calls = [
        NativeToolCall("memory__search", '{"query": "x"}', "call_7"),
        NativeToolCall("clock__now", "{}", "call_8"),
    ]
    result = envelope_from_native_calls(calls, TOOLS, wire_tool_names(TOOLS))
    assert result.envelope == ToolCallEnvelope(
        name="memory.search", args={"query": "x"}, call_id="call_7"
    )
    assert result.repairs == ["dropped_extra_tool_calls:1"]
    ollama = envelope_from_native_calls([NativeToolCall("clock.now", {})], TOOLS, {})
    assert ollama.envelope == ToolCallEnvelope(name="clock.now", args={})


def test_native_call_with_broken_arguments_is_repaired_or_reported() -> None:
    fixed = envelope_from_native_calls([NativeToolCall("clock.now", "{'utc': True,}")], TOOLS, {})
    assert fixed.envelope == ToolCallEnvelope(name="clock.now", args={"utc": True})
    broken = envelope_from_native_calls([NativeToolCall("clock.now", "[[[")], TOOLS, {})
    assert broken.envelope is None and broken.error


def test_content_streamer_streams_only_message_text() -> None:
    text = json.dumps({"type": "message", "content": 'Hi "you"\n\u00e9\U0001f600!'})
    streamer = EnvelopeContentStreamer()
    visible = "".join(streamer.feed(char) for char in text)  # worst case: 1 char per delta
    assert visible == 'Hi "you"\n\u00e9\U0001f600!'
    tool = EnvelopeContentStreamer()
    raw = '{"type": "tool_call", "name": "clock.now", "args": {}}'
    assert "".join(tool.feed(piece) for piece in raw.split(" ")) == ""


def test_prose_streamer_hides_json_tool_calls() -> None:
    prose = ProseStreamer()
    assert "".join(prose.feed(piece) for piece in ["He", "llo ", "there"]) == "Hello there"
    fenced = ProseStreamer()
    assert "".join(fenced.feed(p) for p in ["``", "`json\n{", '"name"', "}"]) == ""
    code = ProseStreamer()
    assert "".join(code.feed(p) for p in ["``", "`python\nx"]) == "```python\nx"
