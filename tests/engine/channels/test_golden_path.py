"""The golden-path job against the fake Discord: list, read, summarize, post, remember."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from engine.channels.discord_channel import DiscordChannel
from engine.clock import FrozenClock
from engine.jobs.base import JobContext, SkipRun
from engine.jobs.golden_path import GoldenPathJob
from engine.jobs.runner import UNCHANGED_REASON
from engine.jobs.scheduler import Scheduler
from engine.llm.scripted import ScriptedProvider
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.signals import SignalBus
from engine.store import Store
from engine.store.sql import scalar
from engine.tools import ToolRuntime
from tests.engine.channels.conftest import MakeChannel, policy_with
from tests.fakes.discord_server import FakeDiscordServer

MakeRuntime = Callable[..., ToolRuntime]

CHAT = [
    ("alice", "the deploy failed again on the staging database"),
    ("bob", "which database migration broke the deploy?"),
    ("alice", "migration 42, the index on users"),
    ("carol", "I can roll back the migration after lunch"),
    ("ci-bot", "build #881 failed: database timeout"),
    ("bob", "the staging database is slow since the index change"),
    ("alice", "ok, roll back and deploy again tonight"),
    ("ci-bot", "build #882 passed"),
]


def _seed(fake: FakeDiscordServer) -> str:
    general = fake.channel_id("general")
    fake.seed(general, CHAT, bots=frozenset({"ci-bot"}))
    return general


def _context(
    store: Store,
    clock: FrozenClock,
    policy: Policy,
    memory: MemoryService,
    runtime: ToolRuntime | None,
    channel: DiscordChannel | None,
    provider: ScriptedProvider | None = None,
) -> JobContext:
    return JobContext(
        store=store,
        policy=policy,
        clock=clock,
        bus=SignalBus(),
        memory=memory,
        provider=provider,
        runtime=runtime,
        channels={"discord": channel} if channel is not None else {},
    )


def test_golden_path_posts_a_summary_and_remembers_it(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    make_runtime: MakeRuntime,
    store: Store,
    clock: FrozenClock,
    memory: MemoryService,
) -> None:
    general = _seed(fake_discord)
    channel = make_channel(summary={"channel_ids": [general]})
    channel.start()
    policy = policy_with(channel.policy)
    ctx = _context(store, clock, policy, memory, make_runtime(policy, channel), channel)
    job = GoldenPathJob()
    assert job.interval_seconds(policy) == policy.jobs.golden_path_interval_minutes * 60
    before = job.inputs_fingerprint(ctx)

    detail = job.run(ctx)

    assert detail["channels_listed"] == 2 and detail["posted"] == 1 and detail["memories"] == 1
    (result,) = detail["channels"]
    (post,) = fake_discord.posted(general)
    assert post["content"] == result["summary"] and result["message_ids"] == [post["id"]]
    assert post["content"].startswith("**#general summary** (8 messages,")
    assert "Topics: database, deploy, migration" in post["content"]
    assert "Active: alice (3), bob (2), ci-bot (bot, 2), carol (1)" in post["content"]
    stored = memory.get(result["memory_id"])
    assert stored is not None and stored.kind == "channel_summary"
    assert stored.channel_id == general and stored.content == post["content"]
    topics = [t["topic"] for t in stored.source_meta["active_topics"]]
    assert topics[:3] == ["database", "deploy", "migration"]
    users = stored.source_meta["notable_users"]
    assert users[0] == {"id": users[0]["id"], "name": "alice", "messages": 3, "bot": False}
    assert stored.source_meta["summary_source"] == "extractive"

    # its own post changes nothing it reads: the scheduler would skip the next run
    assert job.inputs_fingerprint(ctx) == before
    again = job.run(ctx)  # run anyway: the same window is never posted twice
    assert again["channels"][0]["post_status"] == "cached"
    assert len(fake_discord.posted(general)) == 1

    fake_discord.push_message(general, "rollback done, deploy is green", author="carol")
    assert job.inputs_fingerprint(ctx) != before
    clock.advance(policy.jobs.golden_path_interval_minutes * 60)
    third = job.run(ctx)
    assert third["posted"] == 1 and len(fake_discord.posted(general)) == 2
    assert "9 messages" in fake_discord.posted(general)[-1]["content"]


def test_golden_path_uses_the_model_for_prose_when_configured(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    make_runtime: MakeRuntime,
    store: Store,
    clock: FrozenClock,
    memory: MemoryService,
) -> None:
    general = _seed(fake_discord)
    channel = make_channel(channel_allowlist=[general])
    channel.start()
    policy = policy_with(channel.policy)
    prose = "The staging deploy broke on migration 42; @alice plans a rollback tonight."
    provider = ScriptedProvider([prose])
    runtime = make_runtime(policy, channel)
    ctx = _context(store, clock, policy, memory, runtime, channel, provider)

    detail = GoldenPathJob().run(ctx)

    (result,) = detail["channels"]
    assert result["summary_source"] == "llm"
    (post,) = fake_discord.posted(general)
    assert "The staging deploy broke on migration 42" in post["content"]
    assert "@alice" not in post["content"]  # mentions are defused
    assert "Topics: database" in post["content"]
    assert scalar(store.reader(), "SELECT count(*) FROM llm_calls") == 1


def test_golden_path_keeps_the_memory_when_the_budget_stops_the_post(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    make_runtime: MakeRuntime,
    store: Store,
    clock: FrozenClock,
    memory: MemoryService,
) -> None:
    general = _seed(fake_discord)
    channel = make_channel(channel_allowlist=[general])
    channel.start()
    policy = policy_with(channel.policy, actions_per_hour=0)
    ctx = _context(store, clock, policy, memory, make_runtime(policy, channel), channel)

    detail = GoldenPathJob().run(ctx)

    (result,) = detail["channels"]
    assert result["posted"] is False and result["post_status"] == "denied"
    assert "actions_per_hour" in result["post_error"]
    assert fake_discord.posted() == []
    stored = memory.get(result["memory_id"])
    assert stored is not None and stored.source_meta["posted_message_ids"] == []


def test_golden_path_skips_without_a_channel_or_an_allowlist(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    store: Store,
    clock: FrozenClock,
    memory: MemoryService,
) -> None:
    policy = policy_with(make_channel().policy)
    job = GoldenPathJob()
    with pytest.raises(SkipRun, match="no discord channel"):
        job.run(_context(store, clock, policy, memory, None, None))
    closed = make_channel(guild_allowlist=[])
    closed.start()
    ctx = _context(store, clock, policy, memory, None, closed)
    with pytest.raises(SkipRun, match="guild_allowlist"):
        job.run(ctx)
    assert job.inputs_fingerprint(ctx) is None


def test_scheduled_golden_path_repeats_skips_unchanged_and_holds_the_budget(
    fake_discord: FakeDiscordServer,
    make_channel: MakeChannel,
    make_runtime: MakeRuntime,
    store: Store,
    clock: FrozenClock,
    memory: MemoryService,
) -> None:
    general = _seed(fake_discord)
    channel = make_channel(channel_allowlist=[general])
    channel.start()
    policy = policy_with(channel.policy, messages_per_hour=1)
    runtime = make_runtime(policy, channel, minutes=600)
    scheduler = Scheduler(
        _context(store, clock, policy, memory, runtime, channel), [GoldenPathJob()]
    )
    interval = policy.jobs.golden_path_interval_minutes * 60
    for round_ in range(4):  # 4 x 35 minutes of frozen time, a tick every 5 minutes
        for _ in range(int(interval / 300) + 1):
            scheduler.tick()
            assert scheduler.wait_idle(20)
            clock.advance(300)
        if round_ != 1:  # after round 1 nobody says anything
            fake_discord.push_message(general, f"status {round_}: deploy ok", author="bob")

    rows = (
        store.reader()
        .execute("SELECT status, error, detail FROM job_runs WHERE job = 'golden_path' ORDER BY id")
        .fetchall()
    )
    ran = [json.loads(detail)["channels"][0] for status, _, detail in rows if status == "ok"]
    skipped = [error for status, error, _ in rows if status == "skipped"]
    assert "failed" not in [status for status, _, _ in rows]
    # runs at 12:00 ok, 12:35 ok, 13:05 and 13:40 unchanged (nobody spoke), 14:10 ok
    assert len(ran) == 3 and skipped == [UNCHANGED_REASON, UNCHANGED_REASON]
    # messages_per_hour = 1: the 12:35 summary is held back (12:00's post is within the
    # rolling hour); at 14:10 it has left the hour and the summary goes out
    assert [r["post_status"] for r in ran] == ["ok", "denied", "ok"]
    assert "messages_per_hour" in ran[1]["post_error"]
    assert len(fake_discord.posted(general)) == 2
    assert [r["memory_id"] is not None for r in ran] == [True, True, True]
