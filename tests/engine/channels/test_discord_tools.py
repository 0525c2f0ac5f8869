"""The discord.* tools run through the tool runtime: scopes, budgets and rate limits hold."""

from __future__ import annotations

from collections.abc import Callable

from engine.tools import Scope, SourceTag, ToolRuntime
from tests.engine.channels.conftest import MakeChannel, discord_policy, policy_with
from tests.fakes.discord_server import FakeDiscordServer

MakeRuntime = Callable[..., ToolRuntime]


def test_send_needs_the_external_unlock(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel()
    channel.start()
    general = fake_discord.channel_id("general")
    runtime = make_runtime(policy_with(channel.policy), channel, unlock=False)
    args = {"channel_id": general, "content": "hello"}
    denied = runtime.call("discord.send", args, turn_id=1, source=SourceTag.OPERATOR)
    assert denied.status == "denied" and "external" in (denied.error or "")
    assert fake_discord.posted() == []
    runtime.unlock([Scope.EXTERNAL], minutes=5)
    sent = runtime.call("discord.send", args, turn_id=2, source=SourceTag.OPERATOR)
    assert sent.status == "ok"
    assert sent.result["message_ids"] == [m["id"] for m in fake_discord.posted()]


def test_actions_per_hour_budget_stops_sends(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel()
    channel.start()
    general = fake_discord.channel_id("general")
    runtime = make_runtime(policy_with(channel.policy, actions_per_hour=2), channel)
    statuses = []
    for n in range(3):
        outcome = runtime.call(
            "discord.send",
            {"channel_id": general, "content": f"update {n}"},
            turn_id=10 + n,
            source=SourceTag.OPERATOR,
        )
        statuses.append(outcome.status)
    assert statuses == ["ok", "ok", "denied"]
    assert "actions_per_hour" in (outcome.error or "")
    assert [m["content"] for m in fake_discord.posted()] == ["update 0", "update 1"]


def test_send_rate_limit_per_minute(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel(send_per_minute=2)
    channel.start()
    general = fake_discord.channel_id("general")
    runtime = make_runtime(policy_with(channel.policy), channel)
    outcomes = [
        runtime.call(
            "discord.send",
            {"channel_id": general, "content": f"m{n}"},
            turn_id=n,
            source=SourceTag.OPERATOR,
        )
        for n in range(3)
    ]
    assert [o.status for o in outcomes] == ["ok", "ok", "denied"]
    assert "rate limited" in (outcomes[2].error or "")
    assert len(fake_discord.posted()) == 2


def test_delete_is_admin_only(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel()
    channel.start()
    general = fake_discord.channel_id("general")
    (spam_id,) = fake_discord.seed(general, [("spammer", "buy now")])
    runtime = make_runtime(policy_with(channel.policy), channel)  # external only
    args = {"channel_id": general, "message_id": spam_id}
    denied = runtime.call("discord.delete", args, turn_id=1, source=SourceTag.OPERATOR)
    assert denied.status == "denied" and "admin" in (denied.error or "")
    assert fake_discord.deleted == []
    runtime.unlock([Scope.ADMIN], minutes=5)
    done = runtime.call("discord.delete", args, turn_id=2, source=SourceTag.OPERATOR)
    assert done.status == "ok" and done.result == {"deleted": True}
    assert fake_discord.deleted == [(general, spam_id)]
    again = runtime.call("discord.delete", args, turn_id=3, source=SourceTag.OPERATOR)
    assert again.result == {"deleted": False}


def test_history_and_channels_are_read_tools(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel()
    channel.start()
    general = fake_discord.channel_id("general")
    ids = fake_discord.seed(general, [("alice", f"m{n}") for n in range(5)])
    runtime = make_runtime(policy_with(channel.policy), channel, unlock=False)
    page = runtime.call(
        "discord.history",
        {"channel_id": general, "limit": 3},
        turn_id=1,
        source=SourceTag.OPERATOR,
    )
    assert page.status == "ok"
    assert [m["id"] for m in page.result["messages"]] == [ids[4], ids[3], ids[2]]
    assert page.result["next_before"] == ids[2]
    listed = runtime.call("discord.channels", {}, turn_id=1, source=SourceTag.OPERATOR)
    assert [c["name"] for c in listed.result["channels"]] == ["general", "memes"]


def test_send_refuses_text_over_the_policy_maximum(
    fake_discord: FakeDiscordServer, make_channel: MakeChannel, make_runtime: MakeRuntime
) -> None:
    channel = make_channel(send_max_chars=100)
    channel.start()
    runtime = make_runtime(policy_with(discord_policy(fake_discord, send_max_chars=100)), channel)
    outcome = runtime.call(
        "discord.send",
        {"channel_id": fake_discord.channel_id("general"), "content": "x" * 101},
        turn_id=1,
        source=SourceTag.OPERATOR,
    )
    assert outcome.status == "error" and "send_max_chars" in (outcome.error or "")
    assert fake_discord.posted() == []
