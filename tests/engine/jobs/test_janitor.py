"""The janitor job on a synthetic Discord export: aggregate, mint, report, GC, abort."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from engine.jobs.runner import UNCHANGED_REASON
from engine.llm.scripted import ScriptedProvider
from engine.policy import Policy
from tests.engine.jobs.conftest import with_section
from tests.engine.jobs.janitor_world import (
    DAY,
    REPORT_CHANNEL,
    assert_no_orphan_vectors,
    open_world,
    q,
    snapshot,
    summary_json,
    tick,
)


def test_janitor_on_a_synthetic_export(
    memory_world: Callable[..., Any], tmp_path: Path, policy: Policy
) -> None:
    provider = ScriptedProvider([summary_json(f"Day {i}") for i in range(10)])
    w = open_world(memory_world, tmp_path, policy, provider, "big")
    scheduler, store, memory, clock, channel = w.scheduler, w.store, w.memory, w.clock, w.channel
    expected = w.expected
    assert expected["bot_messages"] >= 3000

    # --- first beat: aggregate, mint the rest, report (GC finds nothing young enough)
    run = tick(scheduler, store)
    assert run.status == "ok", run.error
    assert run.detail["states"] == ["listen", "aggregate", "plan_gc", "report", "listen"]
    agg = run.detail["aggregate"]
    assert agg["events_seen"] == expected["messages"]
    assert agg["bot_events"] == expected["bot_messages"]
    assert agg["human_events"] == expected["human_messages"]
    assert agg["duplicates_collapsed"] == expected["duplicates_collapsed"]
    assert agg["aggregates_created"] == expected["aggregates"]
    assert q(store, "SELECT count(*) FROM spam_families") == len(expected["families"])
    for family in expected["families"]:
        per_day = dict(
            store.reader()
            .execute(
                "SELECT CAST(a.day AS VARCHAR), a.dup_count FROM aggregates a "
                "JOIN spam_families f ON f.id = a.family_id WHERE f.author_id = ?",
                [family["bot_id"]],
            )
            .fetchall()
        )
        assert per_day == family["per_day"]
    assert (
        q(store, "SELECT count(*) FROM memories WHERE kind = 'aggregate'") == expected["aggregates"]
    )
    # no raw bot duplicate became a memory, let alone a vector
    assert q(store, "SELECT count(*) FROM memories m JOIN event_fingerprints f "
                    "ON list_contains(m.event_ids, f.event_id) "
                    "WHERE m.kind = 'message' AND f.family_id IS NOT NULL") == 0  # fmt: skip
    assert q(store, "SELECT count(*) FROM memory_vectors v JOIN memories m ON m.id = v.memory_id "
                    "WHERE m.author_is_bot AND m.kind <> 'aggregate'") == 0  # fmt: skip
    # human messages kept: every one is a live, embedded memory
    humans = "FROM memories m WHERE m.kind = 'message' AND NOT m.author_is_bot AND NOT m.deleted"
    assert q(store, f"SELECT count(*) {humans}") == expected["human_messages"]
    embedded = f"SELECT count(*) {humans} AND m.id IN (SELECT memory_id FROM memory_vectors)"
    assert q(store, embedded) == expected["human_messages"]
    unique_bots = "SELECT count(*) FROM memories WHERE kind = 'message' AND author_is_bot"
    assert q(store, unique_bots) == expected["unique_bot_messages"]
    assert (
        run.detail["mint"]["minted"] == expected["human_messages"] + expected["unique_bot_messages"]
    )

    # the report: sent once, with each family's topic and count, and proposals
    report = run.detail["report"]
    assert report["sent"] and len(channel.sent) == 1
    target, text = channel.sent[0]
    assert target == REPORT_CHANNEL and text == report["text"]
    assert "**Top 5 spam families**" in text and "**Top 5 new patterns**" in text
    lines = text.splitlines()
    for family in expected["families"]:
        mentions = [line for line in lines if family["bot"] in line]
        assert any(f"{family['count']} messages" in line for line in mentions), family["bot"]
    assert f"{expected['messages']} messages seen" in text
    assert f"{expected['duplicates_collapsed']} bot duplicates collapsed" in text
    assert "0 summaries created, 0 memories deleted" in text
    assert "**Suggested suppress rules** (proposed only; an operator approves)" in text
    proposals = (
        store.reader()
        .execute("SELECT status, family_id FROM suppress_rule_proposals ORDER BY id")
        .fetchall()
    )
    assert len(proposals) == len(expected["families"])
    assert {status for status, _ in proposals} == {"proposed"}
    for _, family_id in proposals:
        assert f"spam-family-{family_id}" in text
    event = (
        store.reader()
        .execute("SELECT payload FROM events WHERE type = 'system.tick' AND source = 'job:janitor'")
        .fetchall()
    )
    assert [json.loads(e[0])["content"] for e in event] == [text]
    assert provider.requests == []

    # --- the next beats: nothing new -> a quiet run, then skipped without any model call
    clock.advance(6 * 60)
    quiet = tick(scheduler, store)
    assert quiet.status == "ok" and quiet.detail["states"] == ["listen", "aggregate", "listen"]
    clock.advance(6 * 60)
    skipped = tick(scheduler, store)
    assert (skipped.status, skipped.error) == ("skipped", UNCHANGED_REASON)
    assert provider.requests == [] and len(channel.sent) == 1

    # --- two weeks later: GC summarizes the old messages, leaving tombstones
    before = q(store, "SELECT count(*) FROM memories WHERE kind = 'message' AND NOT deleted")
    clock.advance(15 * DAY)
    gc_run = tick(scheduler, store)
    assert gc_run.status == "ok", gc_run.error
    gc = gc_run.detail["gc"]
    assert gc["planned"] >= 2 and gc["committed"] == gc["planned"] and gc["aborted"] == 0
    assert len(provider.requests) == gc["planned"]
    assert gc["memories_deleted"] == before == gc["tombstones"]
    assert q(store, "SELECT count(*) FROM tombstones") == before
    assert q(store, "SELECT count(*) FROM memories WHERE kind = 'message' AND NOT deleted") == 0
    assert q(store, "SELECT count(*) FROM memories WHERE kind = 'summary'") == gc["committed"]
    assert (
        q(store, "SELECT count(*) FROM memories WHERE kind = 'aggregate' AND NOT deleted")
        == (expected["aggregates"])
    )
    assert_no_orphan_vectors(store, memory)
    states = gc_run.detail["states"]
    assert states[:3] == ["listen", "aggregate", "plan_gc"]
    assert states.count("summarize") == states.count("commit") == gc["planned"]
    assert states[-2:] == ["report", "listen"]
    text = gc_run.detail["report"]["text"]
    assert f"{gc['committed']} summaries created, {before} memories deleted" in text
    assert gc_run.detail["actions"] == gc["planned"] + 1


def test_an_invalid_summary_aborts_and_leaves_memories_unchanged(
    memory_world: Callable[..., Any], tmp_path: Path, policy: Policy
) -> None:
    provider = ScriptedProvider(['{"title": "no bullets"}', "not json at all"] * 10)
    w = open_world(
        memory_world, tmp_path, policy, provider, "abort", bot_families=2, per_family=150,
        humans=80, unique_bot=10,
    )  # fmt: skip
    scheduler, store, memory, clock = w.scheduler, w.store, w.memory, w.clock
    assert tick(scheduler, store).status == "ok"
    clock.advance(15 * DAY)
    before = snapshot(store)
    run = scheduler.run_now("janitor")
    assert run.status == "ok", run.error
    gc = run.detail["gc"]
    assert gc["planned"] >= 2 and gc["aborted"] == gc["planned"] and gc["committed"] == 0
    assert len(provider.requests) == gc["planned"]  # every group was tried, each one failed
    assert snapshot(store) == before
    assert q(store, "SELECT count(*) FROM tombstones") == 0
    assert q(store, "SELECT count(*) FROM memories WHERE kind = 'summary'") == 0
    assert q(store, "SELECT count(*) FROM compaction_plans WHERE status <> 'aborted'") == 0
    assert_no_orphan_vectors(store, memory)
    assert run.detail["states"].count("abort") == gc["planned"]
    text = run.detail["report"]["text"]
    assert (
        f"0 summaries created, 0 memories deleted (0 tombstones), {gc['planned']} groups aborted"
        in text
    )


@pytest.mark.parametrize(
    "provider", [None, ScriptedProvider([])], ids=["no-provider", "model-down"]
)
def test_without_a_usable_model_gc_aborts_cleanly_and_the_janitor_still_reports(
    memory_world: Callable[..., Any],
    tmp_path: Path,
    policy: Policy,
    provider: ScriptedProvider | None,
) -> None:
    w = open_world(
        memory_world, tmp_path, policy, provider, "down", bot_families=1, per_family=40,
        humans=30, unique_bot=0,
    )  # fmt: skip
    scheduler, store, clock, channel = w.scheduler, w.store, w.clock, w.channel
    assert tick(scheduler, store).status == "ok"
    clock.advance(15 * DAY)
    before = snapshot(store)
    run = scheduler.run_now("janitor")
    assert run.status == "ok", run.error
    assert snapshot(store) == before
    assert q(store, "SELECT count(*) FROM compaction_plans WHERE status <> 'aborted'") == 0
    assert run.detail["report"]["sent"] and len(channel.sent) == 2
    if provider is None:
        assert run.detail["gc"]["note"] == "no LLM provider to write summaries"
        assert "Compaction note: no LLM provider" in run.detail["report"]["text"]
    else:
        assert run.detail["gc"]["attempted"] == 1  # the rest were not tried
        assert run.detail["gc"]["aborted"] == run.detail["gc"]["planned"] >= 2


def test_the_action_budget_caps_gc_and_posts(
    memory_world: Callable[..., Any], tmp_path: Path, policy: Policy
) -> None:
    tight = with_section(policy, "janitor", max_actions_per_hour=3)
    provider = ScriptedProvider([summary_json() for _ in range(10)])
    w = open_world(
        memory_world, tmp_path, tight, provider, "budget", bot_families=1, per_family=40,
        humans=120, unique_bot=0,
    )  # fmt: skip
    scheduler, store, clock, channel = w.scheduler, w.store, w.clock, w.channel
    first = tick(scheduler, store)
    assert first.detail["actions"] == 1  # the report post
    clock.advance(15 * DAY)
    run = scheduler.run_now("janitor")
    gc = run.detail["gc"]
    assert gc["attempted"] == gc["committed"] == 2 and gc["backlog"]  # 3 - 1 kept for the post
    assert run.detail["report"]["sent"] and run.detail["actions"] == 3
    clock.advance(60)
    again = scheduler.run_now("janitor")
    assert again.detail["gc"]["note"] == "janitor.max_actions_per_hour reached"
    assert again.detail["report"]["not_sent"] == "janitor.max_actions_per_hour reached"
    assert len(channel.sent) == 2 and len(provider.requests) == 2


def test_a_disabled_janitor_is_skipped(
    memory_world: Callable[..., Any], tmp_path: Path, policy: Policy
) -> None:
    off = with_section(policy, "janitor", enabled=False)
    w = open_world(memory_world, tmp_path, off, None, "off", bot_families=1, per_family=5, humans=5)
    scheduler, store = w.scheduler, w.store
    run = scheduler.run_now("janitor")
    assert run.status == "skipped" and "janitor.enabled" in (run.error or "")
    assert q(store, "SELECT count(*) FROM event_fingerprints") == 0


def test_gc_time_folds_the_turns_co_access_log(
    memory_world: Callable[..., Any], tmp_path: Path, policy: Policy
) -> None:
    w = open_world(
        memory_world, tmp_path, policy, None, "fold", bot_families=1, per_family=5, humans=5
    )
    scheduler, store, clock = w.scheduler, w.store, w.clock
    assert tick(scheduler, store).status == "ok"
    counts = "SELECT a, b, count FROM co_access_counts ORDER BY a, b"
    store.write(
        lambda cur: cur.execute(
            "INSERT INTO co_access_log VALUES (1, 2, now()), (1, 2, now()), (2, 3, now())"
        )
    )
    before = store.reader().execute(counts).fetchall()
    assert before == [(1, 2, 2), (2, 3, 1)]
    clock.advance(15 * DAY)  # GC is due
    run = scheduler.run_now("janitor")
    assert run.status == "ok", run.error
    assert run.detail["co_access_folded"] == 3
    assert q(store, "SELECT count(*) FROM co_access_log") == 0
    assert store.reader().execute(counts).fetchall() == before  # the same counts, folded
