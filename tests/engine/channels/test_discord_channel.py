"""The Discord channel drives the real discord.py client against a fake Discord."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from engine.channels import (
    ChannelError,
    ChannelEvent,
    ChannelNotAllowedError,
    DiscordAuthError,
    DiscordUnavailableError,
)
from engine.models import EventType
from engine.store import EventLog, Store
from tests.engine.channels.conftest import TOKEN, MakeChannel
from tests.fakes.discord_server import FakeDiscordServer


class Inbox:
    """Collects channel events; lets a test wait for the n-th one."""

    def __init__(self) -> None:
        self.events: list[ChannelEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: ChannelEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[ChannelEvent]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.events) >= count, timeout)
            return list(self.events)


def test_ready_connects_with_the_needed_intents(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    channel = make_channel()
    started = time.monotonic()
    channel.start()
    assert time.monotonic() - started < 5  # generous: the machine may be busy
    assert channel.state == "ready"
    (identify,) = fake_discord.identifies
    intents = identify["intents"]
    guilds, guild_messages, message_content = 1 << 0, 1 << 9, 1 << 15
    assert intents & guilds and intents & guild_messages and intents & message_content
    assert identify["token"] == TOKEN
    names = [(c.name, c.allowed) for c in channel.list_channels()]
    assert names == [("general", True), ("memes", True)]


def test_message_in_is_appended_with_type_and_author_is_bot(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, store: Store
) -> None:
    inbox = Inbox()
    channel = make_channel()
    channel.start(inbox)
    general = fake_discord.channel_id("general")
    human_id = fake_discord.push_message(general, "hello cephalon", author="alice")
    fake_discord.push_message(general, "build #12 passed", author="ci-bot", bot=True)
    first, second = inbox.wait_for(2)
    assert first.event.type is EventType.DISCORD_MESSAGE_CREATED
    assert first.event.payload["content"] == "hello cephalon"
    assert first.event.payload["message_id"] == human_id
    assert first.event.channel_id == general
    assert (first.event.author_is_bot, second.event.author_is_bot) == (False, True)
    assert first.from_self is False
    stored = EventLog(store).tail(10)
    assert [e.id for e in stored] == [first.event_id, second.event_id]
    assert [(e.type, e.author_is_bot) for e in stored] == [
        ("discord.message.created", False),
        ("discord.message.created", True),
    ]
    assert stored[0].payload["author_name"] == "alice"


def test_edit_and_delete_become_events(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    inbox = Inbox()
    channel = make_channel()
    channel.start(inbox)
    general = fake_discord.channel_id("general")
    message_id = fake_discord.push_message(general, "teh typo", author="bob")
    fake_discord.push_edit(general, message_id, "the typo")
    fake_discord.push_delete(general, message_id)
    created, edited, deleted = inbox.wait_for(3)
    assert [e.event.type for e in (created, edited, deleted)] == [
        EventType.DISCORD_MESSAGE_CREATED,
        EventType.DISCORD_MESSAGE_EDITED,
        EventType.DISCORD_MESSAGE_DELETED,
    ]
    assert edited.event.payload["content"] == "the typo"
    assert edited.event.payload["message_id"] == message_id
    assert edited.event.payload["edited_at"] is not None
    assert deleted.event.payload["message_id"] == message_id
    assert deleted.event.channel_id == general


def test_events_outside_the_allowlist_are_ignored(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    inbox = Inbox()
    channel = make_channel(channel_allowlist=[fake_discord.channel_id("general")])
    channel.start(inbox)
    fake_discord.push_message(fake_discord.channel_id("memes"), "not for you")
    fake_discord.push_message(fake_discord.channel_id("general"), "for you")
    (only,) = inbox.wait_for(1)
    time.sleep(0.2)  # give a wrongly delivered memes event the time to show up
    assert [e.event.payload["content"] for e in inbox.events] == ["for you"]
    assert only.event.channel_id == fake_discord.channel_id("general")
    with pytest.raises(ChannelNotAllowedError, match="channel_allowlist"):
        channel.send(fake_discord.channel_id("memes"), "hi")
    assert fake_discord.posted() == []


def test_history_is_newest_first_and_paginated(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    general = fake_discord.channel_id("general")
    ids = fake_discord.seed(general, [("alice", f"message {i}") for i in range(250)])
    channel = make_channel()
    channel.start()
    messages = channel.history(general, 250)
    assert [m.id for m in messages] == list(reversed(ids))
    assert messages[0].content == "message 249"
    pages = fake_discord.requests("GET", f"/channels/{general}/messages")
    assert [p.query.get("limit") for p in pages] == ["100", "100", "50"]
    assert "before" not in pages[0].query
    assert pages[1].query["before"] == ids[150] and pages[2].query["before"] == ids[50]
    older = channel.history(general, 10, before=ids[100])
    assert [m.id for m in older] == list(reversed(ids[90:100]))


def test_send_splits_long_text_into_parts_of_at_most_2000(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    general = fake_discord.channel_id("general")
    channel = make_channel()
    channel.start()
    lines = [f"line {i:03d} " + "x" * 80 for i in range(50)]  # 50 x 89 chars + newlines
    text = "\n".join(lines)
    assert 4400 < len(text) < 4500
    ids = channel.send(general, text)
    posted = fake_discord.posted(general)
    assert [m["id"] for m in posted] == ids
    assert len(ids) == 3
    assert all(len(m["content"]) <= 2000 for m in posted)
    assert "\n".join(m["content"] for m in posted) == text  # split on line breaks only
    sends = fake_discord.requests("POST", f"/channels/{general}/messages")
    assert all(s.body["allowed_mentions"]["parse"] == [] for s in sends)


def test_429_is_waited_out_then_the_send_succeeds(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    general = fake_discord.channel_id("general")
    channel = make_channel()
    channel.start()
    fake_discord.rate_limit_next(1, retry_after=0.6, method="POST", path_contains="/messages")
    started = time.monotonic()
    (message_id,) = channel.send(general, "after the wait")
    elapsed = time.monotonic() - started
    sends = fake_discord.requests("POST", f"/channels/{general}/messages")
    assert [s.status for s in sends] == [429, 200]
    assert sends[1].at - sends[0].at >= 0.6
    assert 0.6 <= elapsed < 5
    assert fake_discord.posted(general)[0]["id"] == message_id


def test_invalid_token_is_one_clear_error_without_retries(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    bad = "not-the-token.zzz"
    channel = make_channel(token=bad)
    started = time.monotonic()
    with pytest.raises(DiscordAuthError) as caught:
        channel.start()
    assert time.monotonic() - started < 5  # a retry loop would run until ready_timeout (10 s)
    assert caught.value.exit_code == 4
    assert "rejected the bot token" in str(caught.value)
    assert bad not in str(caught.value)
    time.sleep(0.3)  # a retry loop would show up here
    assert fake_discord.logins == 1
    assert fake_discord.identifies == []
    assert channel.state == "failed"


def test_gateway_drop_resumes_and_later_messages_arrive(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    inbox = Inbox()
    channel = make_channel()
    channel.start(inbox)
    general = fake_discord.channel_id("general")
    fake_discord.drop_gateway()  # abrupt: no close frame
    assert fake_discord.wait_until(lambda: len(fake_discord.resumes) == 1)
    assert fake_discord.wait_until(lambda: channel.status()["resumed"] == 1)
    fake_discord.push_message(general, "after the drop")
    (event,) = inbox.wait_for(1)
    assert event.event.payload["content"] == "after the drop"
    assert len(fake_discord.identifies) == 1  # resumed, not re-identified
    assert channel.status()["disconnects"] >= 1


def test_invalid_session_on_resume_reidentifies(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    inbox = Inbox()
    channel = make_channel()
    channel.start(inbox)
    fake_discord.invalidate_resumes = True
    fake_discord.drop_gateway(code=4000)
    assert fake_discord.wait_until(lambda: len(fake_discord.identifies) == 2, timeout=10)
    assert fake_discord.wait_until(lambda: channel.status()["ready"] == 2, timeout=10)
    fake_discord.push_message(fake_discord.channel_id("general"), "new session")
    (event,) = inbox.wait_for(1)
    assert event.event.payload["content"] == "new session"


def test_token_revoked_while_running_fails_once_without_a_retry_loop(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    channel = make_channel()
    channel.start()
    assert fake_discord.heartbeats >= 1
    fake_discord.token = "rotated-elsewhere"  # the resume is refused with close code 4004
    fake_discord.drop_gateway()
    assert fake_discord.wait_until(lambda: channel.state == "failed")
    assert "rejected the bot token" in (channel.status()["last_error"] or "")
    time.sleep(0.3)
    assert len(fake_discord.resumes) == 1 and len(fake_discord.identifies) == 1
    with pytest.raises(ChannelError, match="not connected"):
        channel.send(fake_discord.channel_id("general"), "hello?")


def test_messages_sent_during_a_drop_arrive_once_after_resume(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel
) -> None:
    inbox = Inbox()
    channel = make_channel()
    channel.start(inbox)
    general = fake_discord.channel_id("general")
    fake_discord.drop_gateway(code=4000)
    fake_discord.push_message(general, "while you were away")
    assert fake_discord.wait_until(lambda: channel.status()["resumed"] == 1)
    fake_discord.push_message(general, "welcome back")
    inbox.wait_for(2)
    time.sleep(0.2)
    contents = [e.event.payload["content"] for e in inbox.events]
    assert contents == ["while you were away", "welcome back"]


def test_unreachable_discord_gives_up_after_the_reconnect_attempts(
    make_channel: MakeChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    import discord

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(discord.http.Route, "BASE", f"http://127.0.0.1:{port}/api/v10")
    channel = make_channel(reconnect={"attempts": 2})
    started = time.monotonic()
    with pytest.raises(DiscordUnavailableError, match="unreachable") as caught:
        channel.start()
    assert time.monotonic() - started < 6
    assert caught.value.exit_code == 5
    assert channel.status()["restarts"] == 2


def test_the_token_never_reaches_the_logs(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    channel = make_channel()
    channel.start()
    general = fake_discord.channel_id("general")
    channel.send(general, "hello")
    channel.history(general, 5)
    fake_discord.drop_gateway()
    assert fake_discord.wait_until(lambda: channel.status()["resumed"] == 1)
    channel.stop()
    with pytest.raises(DiscordAuthError):
        make_channel(token="wrong-" + TOKEN).start()
    out, err = capfd.readouterr()
    logged = caplog.text + out + err
    assert "IDENTIFY" in logged  # discord.py's debug logging was on
    assert TOKEN not in logged
