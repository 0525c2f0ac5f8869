"""The embedded model (xllamacpp + the shipped Qwen2.5-Coder-1.5B GGUF).

The ``model`` tests load the real model once per session (a few seconds, ~1.9
GB RAM) from a GGUF assembled into the pytest cache dir (kept between runs),
and skip cleanly when the part wheels or xllamacpp are not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.llm.base import ChatMessage, ChatOptions, ChatRequest, TextDelta, ToolSpec
from engine.llm.envelope import ToolCallEnvelope
from engine.llm.errors import ProviderUnavailable
from engine.llm.local import LoadState, LocalProvider

SYSTEM = "You are Cephalon, an assistant that lives in a terminal. Answer briefly."
TOOLS = [
    ToolSpec(
        name="memory.search",
        description="Search what the user told you in earlier conversations.",
        parameters={
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    ),
    ToolSpec(name="clock.now", description="Get the current date and time."),
]


def test_missing_gguf_fails_cleanly_without_loading_anything(tmp_path: Path) -> None:
    provider = LocalProvider(tmp_path / "nope.gguf")
    assert provider.wait_ready(timeout_s=10) is LoadState.FAILED
    assert "model file not found" in (provider.status().error or "")
    request = ChatRequest(messages=[ChatMessage(role="user", content="hi")])
    with pytest.raises(ProviderUnavailable, match="failed"):
        provider.chat(request)
    provider.close()
    assert provider.status().state is LoadState.CLOSED


@pytest.mark.model
def test_greeting_streams_and_the_second_turn_reuses_the_prefix(
    local_model: LocalProvider,
) -> None:
    deltas: list[TextDelta] = []
    options = ChatOptions(max_tokens=24, temperature=0.0, timeout_s=120)
    first = local_model.chat(
        ChatRequest(
            messages=[
                ChatMessage(role="system", content=SYSTEM),
                ChatMessage(role="user", content="Say hello to the operator in one sentence."),
            ],
            options=options,
        ),
        on_delta=deltas.append,
    )
    assert first.text.strip() and "".join(d.text for d in deltas) == first.text
    assert first.usage.tokens_in > 0 and not first.usage.estimated
    assert first.timings.ttft_ms is not None and first.timings.decode_tok_s
    second = local_model.chat(
        ChatRequest(
            messages=[
                ChatMessage(role="system", content=SYSTEM),
                ChatMessage(role="user", content="Now say goodbye in one sentence."),
            ],
            options=options,
        )
    )
    assert second.text.strip()
    assert (second.usage.cached_tokens or 0) > 0  # the system prompt was not prefilled again


@pytest.mark.model
def test_constrained_output_is_a_valid_memory_search_call(local_model: LocalProvider) -> None:
    request = ChatRequest(
        messages=[
            ChatMessage(role="system", content=SYSTEM),
            ChatMessage(role="user", content="What did I tell you about my sister's birthday?"),
        ],
        tools=TOOLS,
        tool_choice="required",
        options=ChatOptions(max_tokens=80, temperature=0.0, timeout_s=120),
    )
    result = local_model.chat(request)
    assert isinstance(result.envelope, ToolCallEnvelope), (result.text, result.envelope_error)
    assert result.envelope.name == "memory.search"
    assert isinstance(result.envelope.args.get("query"), str) and result.envelope.args["query"]
    assert result.repairs == []
