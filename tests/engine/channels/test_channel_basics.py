"""Message splitting, the local console channel, the token loader, and lazy discord import."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.channels import (
    Channel,
    ChannelError,
    ChannelEvent,
    ChannelMessage,
    ChannelNotAllowedError,
    LocalChannel,
    SecretFileError,
    split_message,
)
from engine.channels.discord_token import TOKEN_ENV, load_token, token_file
from engine.clock import FrozenClock
from engine.models import EventType
from engine.store import EventLog, Store


def test_split_prefers_line_breaks_then_spaces_then_hard_cuts() -> None:
    assert split_message("short", 2000) == ["short"]
    assert split_message("aaaa\nbbbb\ncccc", 9) == ["aaaa\nbbbb", "cccc"]
    assert split_message("aaaa bbbb cccc", 9) == ["aaaa bbbb", "cccc"]
    assert split_message("a" * 25, 10) == ["a" * 10, "a" * 10, "a" * 5]
    assert split_message("  \n \n", 3) == []
    with pytest.raises(ValueError):
        split_message("x", 0)


@given(st.text(alphabet="ab \n", max_size=300), st.integers(min_value=1, max_value=40))
def test_split_parts_fit_and_keep_every_visible_character(text: str, limit: int) -> None:
    parts = split_message(text, limit)
    assert all(0 < len(p) <= limit and p.strip() for p in parts)
    visible = "".join(text.split())
    assert "".join("".join(p.split()) for p in parts) == visible


def test_local_channel_posts_events_and_emits_sends(tmp_path: Path, clock: FrozenClock) -> None:
    shown: list[ChannelMessage] = []
    received: list[ChannelEvent] = []
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        local = LocalChannel(shown.append, clock=clock, event_log=EventLog(store))
        assert isinstance(local, Channel)
        with pytest.raises(ChannelError, match="not started"):
            local.post("too early")
        local.start(received.append)
        event = local.post("hello there")
        assert event.event.type is EventType.LOCAL_MESSAGE_CREATED
        assert event.event_id is not None
        assert EventLog(store).tail(1)[0].payload["content"] == "hello there"
        assert received == [event] and local.inbox.get_nowait() == event
        (reply_id,) = local.send("local", "hi operator")
        assert [m.content for m in shown] == ["hi operator"] and shown[0].from_self
        history = local.history("local", 10)
        assert [m.content for m in history] == ["hi operator", "hello there"]
        assert [m.content for m in local.history("local", 10, before=reply_id)] == ["hello there"]
        assert local.delete("local", reply_id) is True
        assert local.delete("local", reply_id) is False
        with pytest.raises(ChannelNotAllowedError):
            local.send("elsewhere", "x")
        local.stop()
        with pytest.raises(ChannelError):
            local.post("after stop")


def test_token_from_env_wins_and_never_prints(tmp_path: Path) -> None:
    secret = "env-token.value.123"
    token = load_token(tmp_path, {TOKEN_ENV: f"  {secret}\n"})
    assert token is not None and token.reveal() == secret
    assert secret not in repr(token) and secret not in str(token) and secret not in f"{token}"
    assert token.redact(f"boom {secret} boom") == "boom [redacted] boom"
    assert load_token(tmp_path, {}) is None


def test_token_file_must_be_private(tmp_path: Path) -> None:
    path = token_file(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_text("file-token\n")
    os.chmod(path, 0o644)
    with pytest.raises(SecretFileError, match="chmod 600") as caught:
        load_token(tmp_path, {})
    assert "file-token" not in str(caught.value)
    os.chmod(path, 0o600)
    token = load_token(tmp_path, {})
    assert token is not None and token.reveal() == "file-token"
    assert token.source == str(path)
    path.write_text("  \n")
    with pytest.raises(SecretFileError, match="empty"):
        load_token(tmp_path, {})


def test_importing_the_discord_channel_does_not_import_discord() -> None:
    code = (
        "import json, sys\n"
        "import engine.channels.discord_channel, engine.channels.discord_tools\n"
        "import engine.jobs.golden_path\n"
        "print(json.dumps(sorted(m for m in sys.modules if m == 'discord' "
        "or m.startswith('discord.'))))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(proc.stdout) == []
