"""Commands while a daemon owns the data dir (through its socket), and without one."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from engine.config import Settings, load_policy
from engine.errors import DatabaseLockedError
from engine.factory import build_memory
from engine.memory.records import NewMemory
from engine.models import EventType, NewEvent
from engine.store import EventLog, Store
from tests.daemon.conftest import Daemon, daemon_env, write_script
from tests.helpers import REPO, run_cli


def test_read_commands_work_through_the_daemon(
    daemon_factory: Callable[..., Daemon], isolated_home: Path
) -> None:
    _seed(isolated_home)  # memories and events from before the daemon
    daemon = daemon_factory()
    once = run_cli("chat", "--once", "the kettle is blue", env=daemon.env)
    assert once.code == 0, once.stderr
    assert once.stdout.strip() == "echo: the kettle is blue"

    # the file is locked: opening it directly fails...
    try:
        Store(daemon.home / "cephalon.duckdb", read_only=True).close()
        raise AssertionError("the daemon should hold the file lock")
    except DatabaseLockedError:
        pass
    # ...but the read commands go through the socket
    search = run_cli("memory", "search", "seeded fact number 3", "--json", env=daemon.env)
    assert search.code == 0, search.stderr
    hits = json.loads(search.stdout)["results"]
    assert hits[0]["content"] == "seeded fact number 3"
    assert hits[0]["explain"]["final"] > 0
    baseline = run_cli("memory", "search", "number 3", "--mode", "bm25", env=daemon.env)
    assert baseline.code == 0 and "seeded fact number 3" in baseline.stdout

    tail = run_cli("events", "tail", "-n", "50", "--json", env=daemon.env)
    assert tail.code == 0, tail.stderr
    events = [json.loads(line) for line in tail.stdout.splitlines()]
    assert any(e["payload"].get("content") == "the kettle is blue" for e in events)
    assert any(e["payload"].get("phase") == "daemon.start" for e in events)

    doctor = run_cli("doctor", "--json", env=daemon.env)
    assert doctor.code == 0, doctor.stderr
    report = json.loads(doctor.stdout)
    assert report["database"]["status"] == "ok"
    assert report["counts"]["turns"] == 1 and report["counts"]["memories"] >= 5
    assert report["daemon"]["pid"] == daemon.proc.pid
    assert report["daemon"]["status"]["state"] == "running"
    text = run_cli("doctor", env=daemon.env)
    assert text.code == 0 and f"running, pid {daemon.proc.pid}" in text.stdout


def test_chat_once_json_through_the_daemon(daemon: Daemon) -> None:
    result = run_cli("chat", "--once", "status report please", "--json", env=daemon.env)
    assert result.code == 0, result.stderr
    turn = json.loads(result.stdout)
    assert turn["reply"] == "echo: status report please"
    assert turn["status"] == "committed" and turn["via"] == "daemon"
    assert turn["provider"] == "scripted" and turn["tokens_out"] > 0


def test_chat_without_a_terminal_says_a_daemon_owns_the_dir(daemon: Daemon) -> None:
    result = run_cli("chat", env=daemon.env)
    assert result.code == 2
    assert f"a daemon (pid {daemon.proc.pid}) owns" in result.stderr
    assert "cephalon attach" in result.stderr


def test_bare_cephalon_without_a_terminal_reports_through_the_daemon(daemon: Daemon) -> None:
    result = run_cli(env=daemon.env)
    assert result.code == 0, result.stderr
    assert f"running, pid {daemon.proc.pid}" in result.stdout
    assert "cephalon attach" in result.stdout


def test_attach_plain_chats_then_detaches_leaving_the_daemon_running(daemon: Daemon) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cephalon_tui", "attach", "--plain"],
        input="hello from attach\n/state\n/quit\n",
        capture_output=True,
        text=True,
        env=daemon.env,
        cwd=REPO,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "echo: hello from attach" in proc.stdout
    assert "state: running" in proc.stdout
    assert daemon.proc.poll() is None
    turns = daemon.connect().turns()
    assert turns[0]["input"] == "hello from attach"


def test_attach_without_a_daemon_is_a_clear_error(isolated_home: Path) -> None:
    result = run_cli("attach")
    assert result.code == 2
    assert result.stderr.strip() == (
        f"cephalon: error: no daemon runs on {isolated_home}; start one with `cephalon --daemon`"
    )


def _seed(home: Path) -> None:
    settings = Settings(home=home, embedder="hashing")
    settings.data_dir.ensure_writable()
    policy = load_policy().policy
    with Store(settings.data_dir.db_path) as store:
        log = EventLog(store)
        for i in range(5):
            log.append(
                NewEvent(
                    type=EventType.SYSTEM_TICK,
                    source="seed",
                    ts=store.clock.now(),
                    payload={"n": i},
                )
            )
        memory = build_memory(settings, policy, store)
        memory.open()
        memory.add([NewMemory(kind="fact", content=f"seeded fact number {i}") for i in range(5)])
        memory.close()


def test_without_a_daemon_read_only_commands_run_side_by_side(
    isolated_home: Path, tmp_path: Path
) -> None:
    _seed(isolated_home)
    env = daemon_env(isolated_home, write_script(tmp_path / "script.json", []))
    # a reader holds the file open the whole time: a read-write open would be refused
    with Store(isolated_home / "cephalon.duckdb", read_only=True):
        commands = [
            ["events", "tail", "-n", "3", "--json"],
            ["events", "tail", "-n", "3", "--json"],
            ["memory", "search", "seeded fact", "--json"],
            ["memory", "search", "seeded fact", "--json"],
            ["doctor", "--json"],
        ]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "cephalon_tui", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
                cwd=REPO,
            )
            for args in commands
        ]
        outputs = [proc.communicate(timeout=120) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
    assert [json.loads(line)["payload"]["n"] for line in outputs[0][0].splitlines()] == [2, 3, 4]
    assert outputs[0][0] == outputs[1][0]
    hits = json.loads(outputs[2][0])["results"]
    assert len(hits) == 5 and all("seeded fact" in h["content"] for h in hits)
    assert json.loads(outputs[4][0])["database"]["status"] == "ok"


def test_turns_list_and_replay_through_the_daemon(daemon: Daemon) -> None:
    sent = run_cli("chat", "--once", "remember the kettle", "--json", env=daemon.env)
    assert sent.code == 0, sent.stderr
    listed = run_cli("turns", "list", "--json", env=daemon.env)
    assert listed.code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert rows[0]["input"] == "remember the kettle"
    replayed = run_cli("replay", str(rows[0]["id"]), "--json", env=daemon.env)
    assert replayed.code == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert result["match"] is True and result["replayed"] == "echo: remember the kettle"
