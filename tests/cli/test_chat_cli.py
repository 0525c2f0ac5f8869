"""``cephalon chat --once`` against a real HTTP server speaking the provider protocols."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from engine.store import Store
from tests.fakes.llm_server import FakeLLMServer, Reply, Status
from tests.helpers import run_cli

KEYS = {"turn_id", "reply", "provider", "model", "tokens_in", "tokens_out", "latency_ms"}
FAST = {"CEPHALON_EMBEDDER": "hashing"}  # the provider path is under test, not the embedder


def _chat(
    server: FakeLLMServer, kind: str, text: str = "hello"
) -> tuple[int, dict[str, object], str]:
    result = run_cli(
        "chat",
        "--once",
        text,
        "--json",
        "--provider",
        kind,
        "--base-url",
        server.url,
        "--model",
        "fake-model",
        env=FAST,
    )
    return result.code, json.loads(result.stdout) if result.stdout.strip() else {}, result.stderr


@pytest.mark.parametrize(("kind", "provider"), [("openai", "openai_compat"), ("ollama", "ollama")])
def test_reply_over_each_protocol(
    server: FakeLLMServer, isolated_home: Path, kind: str, provider: str
) -> None:
    server.script(Reply("Hello from the fake server", usage=(40, 6)))
    code, payload, stderr = _chat(server, kind)
    assert code == 0, stderr
    assert set(payload) >= KEYS
    assert payload["reply"] == "Hello from the fake server"
    assert payload["provider"] == provider and payload["model"] == "fake-model"
    assert (payload["tokens_in"], payload["tokens_out"]) == (40, 6)
    assert isinstance(payload["latency_ms"], float) and payload["turn_id"] == 1
    with Store(isolated_home / "cephalon.duckdb", read_only=True) as store:
        turn = store.reader().execute("SELECT status, output FROM turns").fetchall()
        calls = store.reader().execute("SELECT provider, tokens_in FROM llm_calls").fetchall()
    assert turn == [("committed", "Hello from the fake server")]
    assert calls == [(provider, 40)]


def test_tool_call_then_answer(server: FakeLLMServer, isolated_home: Path) -> None:
    server.script(Reply(tool=("clock__now", {})), Reply("It is noon UTC."))
    code, payload, stderr = _chat(server, "openai", "what time is it?")
    assert code == 0, stderr
    assert payload["reply"] == "It is noon UTC."
    assert payload["tool_calls"] == [{"id": 1, "tool": "clock.now", "status": "ok", "error": None}]
    second = server.requests[-1].body["messages"]
    assert any(m.get("role") == "tool" and "utc" in m.get("content", "") for m in second)


def test_write_tool_denied_without_unlock(server: FakeLLMServer, isolated_home: Path) -> None:
    server.script(
        Reply(tool=("memory__add", {"text": "remember this"})), Reply("I could not store that.")
    )
    code, payload, _ = _chat(server, "openai", "remember this")
    assert code == 0
    (call,) = payload["tool_calls"]  # type: ignore[misc]
    assert call["tool"] == "memory.add" and call["status"] == "denied"
    assert "permission denied" in call["error"]


def test_rate_limit_is_waited_out(server: FakeLLMServer, isolated_home: Path) -> None:
    server.script(Status(429, retry_after="1"), Reply("after the wait"))
    code, payload, stderr = _chat(server, "openai")
    assert code == 0, stderr
    assert payload["reply"] == "after the wait"
    assert len(server.requests) == 2


def test_server_down_is_a_failed_turn_not_a_traceback(isolated_home: Path) -> None:
    result = run_cli(
        "chat",
        "--once",
        "hi",
        "--json",
        "--provider",
        "openai",
        "--base-url",
        "http://127.0.0.1:9",
        env=FAST,
    )
    assert result.code == 1
    payload = json.loads(result.stdout)
    assert payload["status"] == "failed" and payload["stop_reason"] == "provider_error"
    assert "Traceback" not in result.stderr


def test_bad_provider_flag(isolated_home: Path) -> None:
    result = run_cli("chat", "--once", "hi", "--provider", "gpt")
    assert result.code == 2 and "--provider must be one of" in result.stderr
    missing = run_cli("chat", "--once", "hi", "--provider", "ollama", env=FAST)
    assert missing.code == 2 and "--base-url" in missing.stderr
