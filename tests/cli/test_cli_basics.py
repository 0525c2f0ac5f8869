"""The CLI as a user runs it: doctor, events tail, policy, and one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from engine.models import EventType, NewEvent
from engine.store import EventLog, Store
from engine.store.migrations import LATEST_VERSION
from tests.helpers import run_cli, run_cli_as_nobody

EDN = Path(__file__).resolve().parents[1] / "data" / "policy_example.edn"


@pytest.fixture
def world_dir() -> Iterator[Path]:
    """A temp dir every user can traverse (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="cephalon-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _seed(home: Path, n: int) -> None:
    home.mkdir(parents=True, exist_ok=True)
    with Store(home / "cephalon.duckdb") as store:
        EventLog(store).append_many(
            [
                NewEvent(
                    type=EventType.LOCAL_MESSAGE_CREATED,
                    source="operator",
                    ts=datetime(2026, 1, 1, tzinfo=UTC),
                    author_id="op",
                    payload={"content": f"message {i}"},
                )
                for i in range(n)
            ]
        )


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("cephalon: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_help_lists_commands() -> None:
    result = run_cli("--help")
    assert result.code == 0
    for word in ("doctor", "events", "policy", "--home", "--daemon"):
        assert word in result.stdout


def test_doctor_json_on_fresh_home(isolated_home: Path) -> None:
    result = run_cli("doctor", "--json")
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["home"] == str(isolated_home)
    assert report["schema_version"] == 0
    assert report["database"]["status"] == "missing"
    assert report["counts"]["events"] == 0
    assert set(report["providers"]) >= {"local", "ollama", "openai", "scripted"}
    assert all("why" in p and "available" in p for p in report["providers"].values())
    assert report["models"]["reranker"]["available"] is False  # no folder configured


def test_doctor_counts_and_home_flag(tmp_path: Path) -> None:
    home = tmp_path / "other"
    _seed(home, 7)
    result = run_cli("--home", str(home), "doctor", "--json")
    report = json.loads(result.stdout)
    assert report["home"] == str(home)
    assert report["schema_version"] == LATEST_VERSION
    assert report["counts"]["events"] == 7


def test_main_job_creates_and_migrates(isolated_home: Path) -> None:
    result = run_cli()
    assert result.code == 0, result.stderr
    with Store(isolated_home / "cephalon.duckdb", read_only=True) as store:
        assert store.schema_version == LATEST_VERSION


def test_events_tail_text_and_json(isolated_home: Path) -> None:
    _seed(isolated_home, 30)
    text = run_cli("events", "tail", "-n", "3")
    assert text.code == 0
    assert "message 29" in text.stdout and "message 26" not in text.stdout
    lines = run_cli("events", "tail", "-n", "5", "--json").stdout.splitlines()
    parsed = [json.loads(line) for line in lines]
    assert [p["id"] for p in parsed] == [26, 27, 28, 29, 30]
    assert parsed[0]["type"] == "local.message.created"


def test_read_commands_share_the_file(isolated_home: Path) -> None:
    """With no writer, several read-only commands can open the database at once."""
    import subprocess
    import sys

    _seed(isolated_home, 3)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "cephalon_tui", "events", "tail", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    assert all(len(out.splitlines()) == 3 for out, _ in outputs)


def test_policy_import_edn_roundtrip(tmp_path: Path) -> None:
    out = tmp_path / "imported.toml"
    result = run_cli("policy", "import", str(EDN), "--out", str(out))
    assert result.code == 0, result.stderr
    assert "note: models.actor.provider" in result.stderr
    text = out.read_text()
    assert "qwen3-vl-2b" in text
    check = run_cli("policy", "check", str(out))
    assert check.code == 0, check.stderr
    shown = run_cli("policy", "show", "--json", env={"CEPHALON_POLICY_FILE": str(out)})
    rows = {r["key"]: r for r in json.loads(shown.stdout)}
    assert rows["models.actor.name"]["value"] == "qwen3-vl-2b"
    assert rows["models.actor.name"]["source"] == str(out)
    assert rows["normalize.volatile_rewrites"]["value"][2] == [r"\b\d{15,}\b", "<id>"]
    again = run_cli("policy", "import", str(EDN), "--out", str(out))
    assert again.code != 0 and "--force" in _one_error_line(again.stderr)


def test_policy_import_rejects_bad_edn(tmp_path: Path) -> None:
    bad = tmp_path / "bad.edn"
    bad.write_text('{:dedupe {:exact-ttl-seconds "soon"}}')
    result = run_cli("policy", "import", str(bad))
    line = _one_error_line(result.stderr)
    assert result.code == 2
    assert "dedupe.exact_ttl_seconds" in line
    broken = tmp_path / "broken.edn"
    broken.write_text("{:dedupe ")
    assert "not valid EDN" in _one_error_line(run_cli("policy", "import", str(broken)).stderr)


def test_corrupt_database_is_one_line(isolated_home: Path) -> None:
    isolated_home.mkdir(parents=True)
    (isolated_home / "cephalon.duckdb").write_bytes(os.urandom(64 * 1024))
    for args in ((), ("events", "tail")):
        result = run_cli(*args)
        assert result.code == 2
        assert "not a readable DuckDB database" in _one_error_line(result.stderr)
    doctor = run_cli("doctor", "--json")
    assert doctor.code == 1
    assert json.loads(doctor.stdout)["database"]["status"] == "corruptdatabase"


def test_newer_schema_is_one_line(isolated_home: Path) -> None:
    _seed(isolated_home, 1)
    con = duckdb.connect(str(isolated_home / "cephalon.duckdb"))
    con.execute("INSERT INTO schema_migrations VALUES (42, 'm042_from_the_future', now())")
    con.close()
    for args in ((), ("events", "tail")):
        result = run_cli(*args)
        assert result.code == 2
        assert "upgrade cephalon" in _one_error_line(result.stderr)


def test_unreadable_policy_is_one_line(
    isolated_home: Path, tmp_path: Path, world_dir: Path
) -> None:
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[retrieval\nrrf_k = 1\n")
    result = run_cli(env={"CEPHALON_POLICY_FILE": str(bad_toml)})
    assert result.code == 2
    assert "not valid TOML" in _one_error_line(result.stderr)
    result = run_cli(env={"CEPHALON_POLICY_FILE": str(tmp_path)})  # a directory
    assert "cannot be read" in _one_error_line(result.stderr)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[retrieval]\nrrf_kk = 1\n")
    result = run_cli(env={"CEPHALON_POLICY_FILE": str(unknown)})
    assert f"{unknown}:2: retrieval.rrf_kk: unknown key" in _one_error_line(result.stderr)
    secret = world_dir / "secret.toml"
    secret.write_text("[retrieval]\nrrf_k = 1\n")
    secret.chmod(0)
    nobody_home = world_dir / "home"
    nobody_home.mkdir(mode=0o777)
    nobody_home.chmod(0o777)
    os.environ["CEPHALON_POLICY_FILE"] = str(secret)
    try:
        result = run_cli_as_nobody("--home", str(nobody_home))
    finally:
        del os.environ["CEPHALON_POLICY_FILE"]
    assert result.code == 2
    assert "cannot be read" in _one_error_line(result.stderr)


def test_data_dir_without_write_permission(world_dir: Path) -> None:
    home = world_dir / "readonly-home"
    home.mkdir()
    home.chmod(0o555)
    result = run_cli_as_nobody("--home", str(home))
    assert result.code == 2
    assert "is not writable" in _one_error_line(result.stderr)
    assert not (home / "cephalon.duckdb").exists()
