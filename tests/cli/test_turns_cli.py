"""`cephalon turns list`, `replay` and `reconstitute` through the real CLI."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import run_cli


def _env(home: Path, replies: list[object]) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    script = home / "script.json"
    script.write_text(json.dumps(replies))
    return {
        "CEPHALON_PROVIDER": "scripted",
        "CEPHALON_SCRIPT_FILE": str(script),
        "CEPHALON_EMBEDDER": "hashing",
    }


def test_list_replay_and_reconstitute(isolated_home: Path) -> None:
    env = _env(
        isolated_home,
        [
            {"type": "tool_call", "name": "clock.now", "args": {}},
            {"type": "message", "content": "It is noon, Ada."},
        ],
    )
    once = run_cli("chat", "--once", "Hi, I'm called Ada. What time is it?", "--json", env=env)
    assert once.code == 0, once.stderr
    turn = json.loads(once.stdout)
    assert turn["reply"] == "It is noon, Ada."
    assert {"attention", "context", "gut", "tool_calls"} <= set(turn)
    assert turn["attention"]["candidates"][0]["source"] == "operator"

    listed = run_cli("turns", "list", "--json", env=env)
    assert listed.code == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [set(r) for r in rows] == [{"id", "started_at", "status", "input", "output"}]
    assert rows[0]["status"] == "committed" and rows[0]["output"] == "It is noon, Ada."

    replayed = run_cli("replay", str(rows[0]["id"]), "--json", env=env)
    assert replayed.code == 0, replayed.stderr
    result = json.loads(replayed.stdout)
    assert result["match"] is True and result["replayed"] == result["original"]
    assert {"turn_id", "match", "original", "replayed", "diff"} <= set(result)

    missing = run_cli("replay", "999", env=env)
    assert missing.code == 2 and missing.stderr.strip().startswith("cephalon: error: no turn 999")

    for index_file in (isolated_home / "index").iterdir():
        index_file.unlink()
    rebuilt = run_cli("reconstitute", "--json", env=env)
    assert rebuilt.code == 0, rebuilt.stderr
    report = json.loads(rebuilt.stdout)
    assert report["index_before"].startswith("missing")
    assert report["index_vectors"] == report["memories"] >= 1  # the identity memory
    again = json.loads(run_cli("reconstitute", "--json", env=env).stdout)
    assert again["index_before"].startswith("ok")
