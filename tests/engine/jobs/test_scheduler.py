"""The heartbeat scheduler: jittered seeded schedule, run records, double runs, pause."""

from __future__ import annotations

import itertools
import threading
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from engine.clock import FrozenClock, to_naive_utc
from engine.jobs.base import JobContext, SkipRun
from engine.jobs.runner import STALE_ERROR, UNCHANGED_REASON
from engine.jobs.scheduler import Scheduler, UnknownJobError, jittered_interval
from engine.jobs.state import read_state
from engine.llm.base import ChatMessage, ChatRequest
from engine.llm.scripted import ScriptedProvider
from engine.policy import Policy
from engine.signals import Signal, SignalBus
from engine.store import Store
from tests.engine.jobs.conftest import FakeJob, job_signals, runs, wait_for, with_section


def _drive(scheduler: Scheduler, clock: FrozenClock, seconds: float, step: float) -> None:
    """Tick every ``step`` seconds of frozen time for ``seconds``, waiting for each run."""
    for _ in range(int(seconds / step)):
        scheduler.tick()
        assert scheduler.wait_idle(10)
        clock.advance(step)


def _schedule(tmp_path: Path, name: str, policy: Policy, seed: int) -> list[float]:
    """Run starts (seconds after the start) of a 60 s job over 20 min of frozen time."""
    clock = FrozenClock()
    start = clock.now()
    with Store(tmp_path / f"{name}.duckdb", clock=clock) as store:
        ctx = JobContext(store=store, policy=policy, clock=clock, bus=SignalBus())
        _drive(Scheduler(ctx, [FakeJob("beat", 60.0)], seed=seed), clock, 1200, 1.0)
        return [(r.started_at - start).total_seconds() for r in runs(store, "beat")]


def test_schedule_is_jittered_and_deterministic_with_a_seed(tmp_path: Path, policy: Policy) -> None:
    first = _schedule(tmp_path, "a", policy, seed=7)
    again = _schedule(tmp_path, "b", policy, seed=7)
    other = _schedule(tmp_path, "c", policy, seed=8)
    assert first == again
    assert first != other
    assert first[0] == 0.0  # a job that never ran is due at the first tick
    gaps = [b - a for a, b in itertools.pairwise(first)]
    assert len(gaps) >= 17
    # each gap is the jittered interval rounded up to the next 1 s tick
    assert all(54.0 <= gap <= 67.0 for gap in gaps), gaps
    assert len(set(gaps)) > 3  # jitter actually varies
    seconds = jittered_interval(7, "beat", FrozenClock().now(), 60.0, 0.1)
    assert seconds != 60.0 and abs(seconds - 60.0) <= 6.0
    assert first[1] == pytest.approx(-(-seconds // 1))  # ceil to the tick grid


def test_next_due_is_kept_across_a_restart(
    ctx: JobContext, store: Store, clock: FrozenClock
) -> None:
    job = FakeJob("beat", 60.0)
    scheduler = Scheduler(ctx, [job], seed=3)
    assert scheduler.tick() == ["beat"]
    assert scheduler.wait_idle(10)
    due = read_state(store.reader(), "beat").next_due_at
    assert due == clock.now() + timedelta(
        seconds=jittered_interval(3, "beat", clock.now(), 60, 0.1)
    )
    restarted = Scheduler(ctx, [job], seed=3)
    clock.advance(30)
    assert restarted.tick() == []  # not due yet: the stored due time is used
    clock.advance(40)
    assert restarted.tick() == ["beat"]
    assert restarted.wait_idle(10)
    assert [r.status for r in runs(store, "beat")] == ["ok", "ok"]


def test_run_rows_go_running_then_ok_with_detail_and_signals(
    ctx: JobContext, store: Store, signals: list[Signal]
) -> None:
    seen: list[str] = []

    def action(job_ctx: JobContext) -> dict[str, Any]:
        seen.append(runs(store, "beat")[-1].status)  # the row while the job works
        return {"count": 3, "trigger_seen": job_ctx.trigger, "run_id": job_ctx.run_id}

    scheduler = Scheduler(ctx, [FakeJob("beat", action=action)])
    scheduler.tick()
    assert scheduler.wait_idle(10)
    (row,) = runs(store, "beat")
    assert seen == ["running"]
    assert row.status == "ok" and row.error is None and row.finished_at is not None
    assert row.detail == {"trigger": "tick", "count": 3, "trigger_seen": "tick", "run_id": row.id}
    assert job_signals(signals, "beat") == [("running", row.id), ("ok", row.id)]


def test_a_running_row_younger_than_twice_the_interval_skips_the_tick(
    ctx: JobContext, store: Store, clock: FrozenClock, signals: list[Signal]
) -> None:
    release = threading.Event()
    entered = threading.Event()

    def slow(_: JobContext) -> dict[str, Any]:
        entered.set()
        assert release.wait(10)
        return {}

    job = FakeJob("slow", 60.0, action=slow)
    scheduler = Scheduler(ctx, [job])
    assert scheduler.tick() == ["slow"]
    assert entered.wait(10)
    clock.advance(90)  # due again (jitter <= 10%), running row is 90 s < 2 x 60 s old
    assert scheduler.tick() == ["slow"]
    assert wait_for(lambda: len(runs(store, "slow")) == 2)
    release.set()
    assert scheduler.wait_idle(10)
    first, second = runs(store, "slow")
    assert len(job.calls) == 1
    assert (first.status, second.status) == ("ok", "skipped")
    assert second.error == f"run {first.id} is still running (started 90s ago)"
    assert ("skipped", second.id) in job_signals(signals, "slow")


def test_an_old_running_row_is_stale_marked_failed_and_the_job_runs(
    ctx: JobContext, store: Store, clock: FrozenClock
) -> None:
    crashed_at = to_naive_utc(clock.now() - timedelta(seconds=121))  # > 2 x 60 s

    def insert(cur: Any) -> None:
        cur.execute(
            "INSERT INTO job_runs (id, job, started_at, status, detail) "
            "VALUES (41, 'beat', ?, 'running', '{}')",
            [crashed_at],
        )

    store.write(insert)
    job = FakeJob("beat", 60.0)
    scheduler = Scheduler(ctx, [job])
    scheduler.tick()
    assert scheduler.wait_idle(10)
    stale, fresh = runs(store, "beat")
    assert (stale.id, stale.status, stale.error) == (41, "failed", STALE_ERROR)
    assert stale.finished_at == clock.now()
    assert fresh.status == "ok" and fresh.detail["stale_runs_closed"] == [41]
    assert len(job.calls) == 1


def test_a_throwing_job_is_recorded_as_failed_and_the_next_job_still_runs(
    ctx: JobContext, store: Store, clock: FrozenClock, signals: list[Signal]
) -> None:
    def boom(_: JobContext) -> dict[str, Any]:
        raise RuntimeError("boom")

    bad, good = FakeJob("bad", action=boom), FakeJob("good")
    scheduler = Scheduler(ctx, [bad, good])
    assert scheduler.tick() == ["bad", "good"]
    assert scheduler.wait_idle(10)
    (failed,) = runs(store, "bad")
    assert (failed.status, failed.error) == ("failed", "RuntimeError: boom")
    assert [r.status for r in runs(store, "good")] == ["ok"]
    assert ("failed", failed.id) in job_signals(signals, "bad")
    clock.advance(120)
    assert scheduler.tick() == ["bad", "good"]  # the scheduler is not broken by it
    assert scheduler.wait_idle(10)
    assert [r.status for r in runs(store, "bad")] == ["failed", "failed"]
    assert [r.status for r in runs(store, "good")] == ["ok", "ok"]


def test_skip_run_is_recorded_as_skipped_with_its_reason(ctx: JobContext, store: Store) -> None:
    def nothing(_: JobContext) -> dict[str, Any]:
        raise SkipRun("nothing to do")

    Scheduler(ctx, [FakeJob("idle", action=nothing)]).run_now("idle")
    (row,) = runs(store, "idle")
    assert (row.status, row.error) == ("skipped", "nothing to do")


def test_pause_is_persisted_and_resume_runs_again(
    ctx: JobContext, store: Store, clock: FrozenClock
) -> None:
    job = FakeJob("beat", 60.0)
    scheduler = Scheduler(ctx, [job])
    scheduler.pause("beat")
    assert scheduler.tick() == []
    (status,) = Scheduler(ctx, [job]).status()  # another scheduler sees it
    assert status.paused and status.last_run is None
    assert Scheduler(ctx, [job]).tick() == []
    outcome = scheduler.run_now("beat")  # an operator's run ignores the pause
    assert outcome.status == "ok" and outcome.detail["trigger"] == "manual"
    scheduler.resume("beat")
    clock.advance(120)
    assert scheduler.tick() == ["beat"]
    assert scheduler.wait_idle(10)
    (status,) = scheduler.status()
    assert not status.paused and status.last_run is not None
    assert status.last_run.status == "ok"
    assert len(job.calls) == 2


def test_unchanged_inputs_skip_the_run_and_the_model_call(
    ctx: JobContext, store: Store, clock: FrozenClock
) -> None:
    provider = ScriptedProvider(["first answer", "second answer"])

    def ask(job_ctx: JobContext) -> dict[str, Any]:
        assert job_ctx.provider is not None
        reply = job_ctx.provider.chat(
            ChatRequest(messages=[ChatMessage(role="user", content="hi")])
        )
        return {"reply": reply.text}

    job = FakeJob("beat", 60.0, action=ask, fingerprint="inputs-1")
    scheduler = Scheduler(replace(ctx, provider=provider), [job])
    scheduler.tick()
    assert scheduler.wait_idle(10)
    assert len(provider.requests) == 1
    clock.advance(120)
    scheduler.tick()
    assert scheduler.wait_idle(10)
    assert len(provider.requests) == 1  # no model call for unchanged inputs
    assert [(r.status, r.error) for r in runs(store, "beat")] == [
        ("ok", None),
        ("skipped", UNCHANGED_REASON),
    ]
    job.fingerprint = "inputs-2"
    clock.advance(120)
    scheduler.tick()
    assert scheduler.wait_idle(10)
    assert len(provider.requests) == 2
    assert runs(store, "beat")[-1].detail["reply"] == "second answer"
    assert read_state(store.reader(), "beat").last_fingerprint == "inputs-2"


def test_unknown_job_names_are_listed(ctx: JobContext) -> None:
    scheduler = Scheduler(ctx, [FakeJob("a"), FakeJob("b")])
    with pytest.raises(UnknownJobError, match=r"no job named 'c' \(jobs: a, b\)"):
        scheduler.run_now("c")
    with pytest.raises(UnknownJobError):
        scheduler.pause("c")
    with pytest.raises(ValueError, match="unique"):
        Scheduler(ctx, [FakeJob("a"), FakeJob("a")])


def test_start_ticks_on_a_background_thread_until_stopped(
    ctx: JobContext, store: Store, policy: Policy
) -> None:
    fast = with_section(policy, "engine", tick_seconds=0.01)
    ran = threading.Event()
    job = FakeJob("beat", 60.0, action=lambda _: ran.set() or {})
    stop = threading.Event()
    scheduler = Scheduler(replace(ctx, policy=fast), [job])
    thread = scheduler.start(stop)
    assert ran.wait(10)
    stop.set()
    thread.join(5)
    assert not thread.is_alive()
    assert scheduler.wait_idle(10)
    assert [r.status for r in runs(store, "beat")] == ["ok"]


def test_a_long_run_in_this_process_is_never_taken_for_a_crash(
    ctx: JobContext, store: Store, clock: FrozenClock
) -> None:
    release, entered = threading.Event(), threading.Event()

    def slow(_: JobContext) -> dict[str, Any]:
        entered.set()
        assert release.wait(10)
        return {}

    job = FakeJob("slow", 60.0, action=slow)
    scheduler = Scheduler(ctx, [job])
    scheduler.tick()
    assert entered.wait(10)
    clock.advance(300)  # 5 x the interval: stale by age, but its run is alive here
    scheduler.tick()
    assert wait_for(lambda: len(runs(store, "slow")) == 2)
    release.set()
    assert scheduler.wait_idle(10)
    first, second = runs(store, "slow")
    assert (first.status, second.status) == ("ok", "skipped")
    assert second.error == f"run {first.id} is still running (started 300s ago)"
    assert len(job.calls) == 1
