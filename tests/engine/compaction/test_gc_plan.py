"""GC planning picks old, unused, unprotected memories and groups them by channel and day."""

from __future__ import annotations

import pytest

from engine.memory.gc_plan import PlanLimits

from .conftest import World, day, with_compaction


def _planned(world: World, **changes: object) -> list[tuple[int, ...]]:
    policy = with_compaction(world.policy, **changes) if changes else None
    return [g.source_ids for g in world.compactor(None, policy).plan()]


def test_only_memories_older_than_the_minimum_age(world: World) -> None:
    old = [world.add(f"standup notes {i}", at=day(0, 10, i)) for i in range(3)]
    world.age(10)
    young = [world.add(f"fresh notes {i}", at=day(0, 11, i)) for i in range(3)]
    assert _planned(world) == []  # 10 days < age_min_days (14)
    world.age(5)  # old ones are 15 days old, young ones 5
    assert _planned(world) == [tuple(old)]
    assert not set(young) & {i for g in _planned(world) for i in g}


def test_decayed_access_sum_decides(world: World) -> None:
    """Access times count exp(-age/tau) each (tau 21 days, threshold 0.8)."""
    never = [world.add(f"never used {i}", at=day(0, 9, i)) for i in range(2)]
    twice = world.add("used twice long ago", at=day(0, 9, 5))
    thrice = world.add("used three times long ago", at=day(0, 9, 6))
    world.memory.log_inclusions(1, "a", [(twice, 5), (thrice, 5)])
    world.memory.log_inclusions(1, "b", [(twice, 5), (thrice, 5)])
    world.memory.log_inclusions(1, "c", [(thrice, 5)])
    world.age(20)
    # twice: 2 * exp(-20/21) = 0.77 < 0.8; thrice: 3 * exp(-20/21) = 1.16 >= 0.8
    assert _planned(world) == [(*never, twice)]
    recent = world.add("used yesterday", at=day(0, 9, 7))
    world.age(20)
    world.memory.log_inclusions(1, "d", [(recent, 5)])
    world.age(1)  # exp(-1/21) = 0.95: still in use; the first plan has expired
    # 21 days later thrice has decayed too: 3 * exp(-41/21) = 0.43
    assert [g.source_ids for g in world.compactor(None).plan()] == [(*never, twice, thrice)]


def test_protected_memories_are_never_candidates(world: World) -> None:
    plain = [world.add(f"plain talk {i}", at=day(0, 9, i)) for i in range(2)]
    pinned = world.add("pinned talk", at=day(0, 9, 10))
    world.memory.pin(pinned)
    world.add("critical talk", at=day(0, 9, 11), tags=["critical"])
    world.add("pinned by tag", at=day(0, 9, 12), tags=["pinned"])
    world.add("immutable talk", at=day(0, 9, 13), immutable=True)
    locked = world.add("admin-locked talk", at=day(0, 9, 14))
    system = world.add("system-locked talk", at=day(0, 9, 15))
    deleted = world.add("deleted talk", at=day(0, 9, 16))
    world.store.write(
        lambda cur: cur.execute(
            "UPDATE memories SET locked_by_admin = (id = $1), locked_by_system = (id = $2) "
            "WHERE id IN ($1, $2)",
            [locked, system],
        )
    )
    world.memory.forget([deleted])
    world.age(30)
    assert _planned(world) == [tuple(plain)]


def test_summaries_and_aggregates_are_never_candidates_whatever_the_policy(
    world: World,
) -> None:
    kept = [
        world.add("a message", at=day(0, 9, 0)),
        world.add("an assistant reply", kind="assistant_message", at=day(0, 9, 1)),
        world.add("a tool result with knowledge", kind="tool_result", at=day(0, 9, 2)),
    ]
    for kind in ("summary", "aggregate", "tombstone", "fact", "tool_call", "admin"):
        world.add(f"a {kind} memory", kind=kind, at=day(0, 9, 3))
    world.age(30)
    assert _planned(world) == [tuple(kept)]
    loose = {
        "candidate_kinds": ["message", "assistant_message", "tool_result", "summary", "aggregate"],
        "locks.never_delete_kinds": [],
    }
    world.compactor(None).abort(1, "try again with a looser policy")
    assert _planned(world, **loose) == [tuple(kept)]


def test_groups_by_channel_and_day_oldest_first(world: World) -> None:
    c1_d0 = [world.add(f"c1 day0 {i}", channel="c1", at=day(0, 12 - i)) for i in range(3)]
    c2_d0 = [world.add(f"c2 day0 {i}", channel="c2", at=day(0, 8, i)) for i in range(2)]
    c1_d1 = [world.add(f"c1 day1 {i}", channel="c1", at=day(1, 9, i)) for i in range(2)]
    world.add("alone in c3", channel="c3", at=day(0, 9))  # below min_source_count
    world.age(30)
    groups = world.compactor(None).plan()
    assert [g.source_ids for g in groups] == [tuple(reversed(c1_d0)), tuple(c2_d0), tuple(c1_d1)]
    first = groups[0]
    assert (first.channel_id, first.day) == ("c1", day(0).date())
    assert first.time_start == day(0, 10) and first.time_end == day(0, 12)
    assert [g.plan_id for g in groups] == [1, 2, 3]
    rows = (
        world.store.reader()
        .execute("SELECT id, status, channel_id, source_ids FROM compaction_plans ORDER BY id")
        .fetchall()
    )
    assert rows[0] == (1, "planned", "c1", list(reversed(c1_d0)))


def test_count_and_token_limits_cut_groups(world: World) -> None:
    ids = [world.add(f"message number {i} " + "x" * 20, at=day(0, 9, i)) for i in range(7)]
    world.age(30)
    # 7 memories, at most 3 per group: 3 + 3, and a lone leftover is left alone
    assert _planned(world, **{"grouping.max_source_count": 3}) == [
        tuple(ids[0:3]),
        tuple(ids[3:6]),
    ]
    for plan_id in (1, 2):
        world.compactor(None).abort(plan_id, "next case")
    # each is ~9 tokens (38 chars / 4): 20 tokens fit two
    assert _planned(world, **{"grouping.max_source_tokens": 20}) == [
        tuple(ids[0:2]),
        tuple(ids[2:4]),
        tuple(ids[4:6]),
    ]
    for plan_id in (3, 4, 5):
        world.compactor(None).abort(plan_id, "next case")
    assert len(world.compactor(None).plan(limit_groups=2)) == 1  # 7 fit one group of 200
    assert _planned(world) == []  # all 7 are in the open plan


def test_max_groups_per_run(world: World) -> None:
    for d in range(5):
        for i in range(2):
            world.add(f"day {d} talk {i}", at=day(d, 9, i))
    world.age(40)
    policy = with_compaction(world.policy, max_groups_per_run=3)
    assert len(world.compactor(None, policy).plan()) == 3
    assert len(world.compactor(None, policy).plan(limit_groups=1)) == 1
    assert len(world.compactor(None, policy).plan(limit_groups=50)) == 1  # 5 - 3 - 1 left


def test_open_plans_hold_their_memories_until_they_end_or_expire(world: World) -> None:
    ids = [world.add(f"held talk {i}", at=day(0, 9, i)) for i in range(2)]
    world.age(30)
    compactor = world.compactor(None)
    assert [g.source_ids for g in compactor.plan()] == [tuple(ids)]
    assert compactor.plan() == []
    compactor.abort(1, "changed my mind")
    assert [g.plan_id for g in compactor.plan()] == [2]
    world.age(0.5)  # 12 h > interval_minutes (6 h): plan 2 is abandoned
    assert [(g.plan_id, g.source_ids) for g in compactor.plan()] == [(3, tuple(ids))]
    assert compactor.get_plan(2).status == "aborted"
    assert "expired" in (compactor.get_plan(2).error or "")


def test_caller_overrides_can_only_narrow_the_policy(world: World) -> None:
    limits = PlanLimits.from_policy(world.policy.compaction)
    looser = limits.stricter(
        age_min_days=1, access_threshold=5.0, max_source_tokens=10**9, max_groups=10**6
    )
    assert looser == limits
    tighter = limits.stricter(
        age_min_days=30, access_threshold=0.1, max_source_tokens=100, max_groups=2
    )
    assert (tighter.age_min_days, tighter.access_threshold) == (30, 0.1)
    assert (tighter.max_source_tokens, tighter.max_groups) == (100, 2)
    assert "summary" not in limits.kinds


@pytest.mark.parametrize("by", [["channel_id"], ["day"], []])
def test_grouping_keys_follow_the_policy(world: World, by: list[str]) -> None:
    for ch in ("c1", "c2"):
        for d in (0, 1):
            for i in range(2):
                world.add(f"{ch} {d} {i}", channel=ch, at=day(d, 9, i))
    world.age(30)
    groups = _planned(world, **{"grouping.by": by})
    assert len(groups) == {0: 1, 1: 2}[len(by)]
    assert sorted(i for g in groups for i in g) == list(range(1, 9))
