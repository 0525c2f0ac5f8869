"""Opening Discord only when a token is configured, and human messages becoming inputs."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from engine.channels.discord_setup import intake_handler, open_discord
from engine.channels.discord_token import TOKEN_ENV
from engine.clock import FrozenClock
from engine.config import load_policy
from engine.pipeline.intake import Intake
from engine.store import EventLog, Store
from tests.engine.channels.conftest import TOKEN, discord_policy, policy_with
from tests.fakes.discord_server import FakeDiscordServer


def test_no_token_means_no_discord(tmp_path: Path, store: Store, clock: FrozenClock) -> None:
    assert open_discord(tmp_path, load_policy().policy, store, clock) is None


def test_human_messages_become_candidates_once(
    fake_discord: FakeDiscordServer,
    store: Store,
    clock: FrozenClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    policy = policy_with(discord_policy(fake_discord))
    woken = threading.Event()
    handler = intake_handler(Intake(store, policy, clock), woken.set)
    channel = open_discord(tmp_path, policy, store, clock, handler)
    assert channel is not None
    try:
        general = fake_discord.channel_id("general")
        fake_discord.push_message(general, "build passed", author="ci-bot", bot=True)
        fake_discord.push_message(general, "cephalon, what broke yesterday?", author="dana")
        channel.send(general, "looking")  # its own message comes back as an event
        assert woken.wait(5)
        assert fake_discord.wait_until(lambda: EventLog(store).count() == 3)
        rows = (
            store.reader()
            .execute("SELECT event_id, source, channel_id, text FROM candidates")
            .fetchall()
        )
        events = {e.id: e for e in EventLog(store).tail(10)}
        assert len(rows) == 1
        event_id, source, channel_id, text = rows[0]
        assert (source, channel_id, text) == ("channel", general, "cephalon, what broke yesterday?")
        assert events[event_id].type == "discord.message.created"
        assert events[event_id].payload["author_name"] == "dana"
    finally:
        channel.stop()
