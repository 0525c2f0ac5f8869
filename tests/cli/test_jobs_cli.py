"""``cephalon jobs`` as a user runs it: list, run the janitor on an import, pause, resume."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from engine.clock import FrozenClock
from engine.config import load_policy, load_settings
from engine.factory import build_memory
from engine.memory.records import NewMemory
from engine.store import Store
from tests.engine.janitor.synthetic_export import make_export
from tests.helpers import run_cli

ENV = {"CEPHALON_EMBEDDER": "hashing", "CEPHALON_PROVIDER": "scripted"}


def _jobs(env: dict[str, str]) -> dict[str, dict[str, object]]:
    result = run_cli("jobs", "list", "--json", env=env)
    assert result.code == 0, result.stderr
    return {job["name"]: job for job in json.loads(result.stdout)["jobs"]}


def test_list_run_pause_resume(tmp_path: Path) -> None:
    jobs = _jobs(ENV)
    assert jobs["janitor"]["last_run"] is None
    assert jobs["janitor"]["paused"] is False
    assert jobs["janitor"]["interval_seconds"] == 300.0

    expected = make_export(tmp_path / "export.json", bot_families=2, per_family=60, humans=25)
    imported = run_cli("ingest", "discord-export", expected["path"], env=ENV)
    assert imported.code == 0, imported.stderr

    ran = run_cli("jobs", "run", "janitor", "--json", env=ENV, timeout=120)
    assert ran.code == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["job"] == "janitor" and run["status"] == "ok" and run["error"] is None
    detail = run["detail"]
    assert detail["trigger"] == "manual"
    assert detail["aggregate"]["events_seen"] == expected["messages"]
    assert detail["aggregate"]["duplicates_collapsed"] == expected["duplicates_collapsed"]
    assert detail["mint"]["minted"] == expected["human_messages"] + expected["unique_bot_messages"]
    report = detail["report"]
    assert report["sent"] is False and report["not_sent"] == "no channel can send"
    for family in expected["families"]:
        assert f"{family['bot']} spam" in report["text"]
        assert f"{family['count']} messages" in report["text"]

    listed = _jobs(ENV)["janitor"]
    assert listed["last_run"]["status"] == "ok"  # type: ignore[index]
    assert listed["last_run"]["id"] == run["run_id"]  # type: ignore[index]

    assert run_cli("jobs", "pause", "janitor", env=ENV).code == 0
    assert _jobs(ENV)["janitor"]["paused"] is True
    text = run_cli("jobs", "list", env=ENV)
    assert text.code == 0 and "janitor" in text.stdout and "yes" in text.stdout
    assert run_cli("jobs", "resume", "janitor", env=ENV).code == 0
    assert _jobs(ENV)["janitor"]["paused"] is False

    again = run_cli("jobs", "run", "janitor", env=ENV, timeout=120)
    assert again.code == 0, again.stderr
    assert "janitor run" in again.stdout and ": ok" in again.stdout
    assert "**Janitor report**" in again.stdout  # a manual run always reports


def test_unknown_job_is_a_one_line_error() -> None:
    for args in (("run", "nope"), ("pause", "nope"), ("resume", "nope")):
        result = run_cli("jobs", *args, env=ENV)
        assert result.code == 2
        assert result.stderr.startswith("cephalon: error: no job named 'nope' (jobs: janitor")
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


def test_run_with_no_usable_model_aborts_gc_cleanly_and_still_reports(isolated_home: Path) -> None:
    settings = load_settings().model_copy(update={"embedder": "hashing"})
    settings.data_dir.ensure_writable()
    policy = load_policy().policy
    month_ago = FrozenClock(datetime.now(UTC) - timedelta(days=30))
    with Store(settings.data_dir.db_path, clock=month_ago) as store:
        memory = build_memory(settings, policy, store, month_ago)
        memory.open()
        notes = [f"old note {i} about the parser" for i in range(6)]
        memory.add(
            [NewMemory(kind="message", content=n, channel_id="c1", source="cli") for n in notes]
        )
        memory.close()

    ran = run_cli("jobs", "run", "janitor", "--json", env=ENV, timeout=120)  # no script: no model
    assert ran.code == 0, ran.stderr
    run = json.loads(ran.stdout)
    assert run["status"] == "ok"
    gc = run["detail"]["gc"]
    assert gc["planned"] == 1 and gc["aborted"] == 1 and gc["committed"] == 0
    assert "1 groups aborted" in run["detail"]["report"]["text"]
    with Store(settings.data_dir.db_path, read_only=True) as store:
        rows = (
            store.reader()
            .execute("SELECT count(*) FILTER (WHERE NOT deleted), count(*) FROM memories")
            .fetchall()
        )
        assert rows == [(6, 6)]
        plans = store.reader().execute("SELECT status FROM compaction_plans").fetchall()
        assert plans == [("aborted",)]
