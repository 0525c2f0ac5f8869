"""The whole engine on Discord: a message in becomes a turn, and the reply goes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.turns_query import list_turns
from tests.engine.channels.conftest import TOKEN, discord_policy
from tests.fakes.discord_server import FakeDiscordServer


def test_a_discord_message_is_answered_in_its_channel(
    isolated_home: Path, fake_discord: FakeDiscordServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CEPHALON_DISCORD_TOKEN", TOKEN)
    policy = load_policy().policy.model_copy(update={"discord": discord_policy(fake_discord)})
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    script = [{"type": "message", "content": "Hello Alice, all good here."}]
    with Engine(settings, policy, provider=ScriptedProvider(script)) as engine:
        engine.unlock(60)  # replying in a channel is an external effect
        for job in ("golden_path", "janitor"):  # they would take the scripted reply
            engine.jobs.pause(job)
        engine.start()
        assert engine.discord is not None
        general = fake_discord.channel_id("general")
        fake_discord.push_message(general, "hey cephalon, how are you?", author="alice")
        reply = "Hello Alice, all good here."
        assert fake_discord.wait_until(
            lambda: any(m["content"] == reply for m in fake_discord.posted(general)), timeout=20
        ), fake_discord.posted(general)
        turns = list_turns(engine.store.reader())
        assert [t["input"] for t in turns] == ["hey cephalon, how are you?"]
        row = engine.store.reader().execute("SELECT source, channel_id FROM candidates").fetchall()
        assert row == [("channel", general)]

        # the reply went through the tool runtime (budgeted, recorded)
        def sent() -> list[tuple[str, str]]:
            return (
                engine.store.reader()
                .execute("SELECT tool, status FROM tool_calls WHERE tool = 'discord.send'")
                .fetchall()
            )

        assert fake_discord.wait_until(lambda: sent() == [("discord.send", "ok")], timeout=10)
