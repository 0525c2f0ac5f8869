"""Whole turns with the real embedded model: a greeting, and a memory.search tool call."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.base import Provider
from engine.memory.records import NewMemory

pytestmark = pytest.mark.model


@pytest.fixture
def engine(isolated_home: Path, local_model: Provider) -> Iterator[Engine]:
    with Engine(load_settings(), load_policy().policy, provider=local_model) as eng:
        yield eng


def test_greeting(engine: Engine) -> None:
    outcome = engine.run_turn("Hello! Please greet me back in one short sentence.")
    assert outcome.status == "committed" and outcome.stop_reason == "message"
    assert outcome.reply and re.search(
        r"\b(hello|hi|hey|greet\w*|good|welcome|nice)\b", outcome.reply, re.I
    )
    assert outcome.provider == "local" and outcome.tokens_out > 0
    rows = (
        engine.store.reader()
        .execute("SELECT status, output FROM turns WHERE id = ?", [outcome.turn_id])
        .fetchall()
    )
    assert rows == [("committed", outcome.reply)]


def test_request_produces_a_valid_memory_search_call(engine: Engine) -> None:
    assert engine.memory is not None
    engine.memory.add([NewMemory(kind="fact", content="The operator's cat is named Biscuit.")])
    outcome = engine.run_turn(
        "Use the memory.search tool to look up what I told you about my cat, then tell me its name."
    )
    searches = [c for c in outcome.tool_calls if c["tool"] == "memory.search"]
    assert searches, outcome
    assert searches[0]["status"] in ("ok", "cached")
    row = (
        engine.store.reader()
        .execute("SELECT args, status FROM tool_calls WHERE id = ?", [searches[0]["id"]])
        .fetchall()[0]
    )
    assert '"query"' in row[0] and row[1] == "ok"


def test_chat_once_cli_with_the_embedded_model(
    isolated_home: Path, request: pytest.FixtureRequest, local_model: Provider
) -> None:
    """``cephalon chat --once --json`` on defaults (no server configured) answers."""
    import json

    from engine.llm.model_files import embedded_model_path
    from tests.helpers import run_cli

    gguf = embedded_model_path(Path(request.config.cache.mkdir("cephalon-embedded-model")))
    env = {"CEPHALON_MODEL": str(gguf)}
    added = run_cli("memory", "add", "The operator's favourite colour is teal.", env=env)
    assert added.code == 0, added.stderr
    result = run_cli(
        "chat", "--once", "What is my favourite colour?", "--json", env=env, timeout=600
    )
    assert result.code == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["provider"] == "local" and payload["reply"]
    assert payload["tokens_in"] > 0 and payload["tokens_out"] > 0
    assert payload["latency_ms"] > 0 and payload["turn_id"] == 1
    # the whole pipeline ran: attention weighed the message, context retrieved the memory
    attention = payload["attention"]
    winner = [c for c in attention["candidates"] if c["winner"]]
    assert len(winner) == 1 and winner[0]["text"] == "What is my favourite colour?"
    assert set(winner[0]["parts"]) >= {"novelty", "relevance", "charge", "urgency"}
    assert "[COGNITIVE STATE]" in attention["report"]
    retrieved = [c for c in payload["context"] if "teal" in c["content"]]
    assert retrieved and retrieved[0]["score"] is not None and retrieved[0]["explain"]
    assert payload["gut"] is not None and payload["gut"]["model"]
    assert set(payload["timings_ms"]) >= {"attention", "context", "gut", "act", "commit"}
