"""``cephalon ingest discord-export`` as a user runs it: import, re-import, aggregate and
search, and one-line errors for bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.engine.janitor.synthetic_export import make_export
from tests.helpers import run_cli

HASHING = {"CEPHALON_EMBEDDER": "hashing"}


def test_import_twice_then_aggregate_and_search(isolated_home: Path, tmp_path: Path) -> None:
    export = tmp_path / "export.json"
    expected = make_export(export, bot_families=3, per_family=120, humans=40, unique_bot=10)
    total = expected["messages"]

    first = run_cli("ingest", "discord-export", str(export), env=HASHING)
    assert first.code == 0, first.stderr
    assert f"imported {total} new messages from #memes (Synthetic Guild)" in first.stdout
    again = run_cli("ingest", "discord-export", str(export), "--json", env=HASHING)
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["import"] == {
        "messages": total,
        "added": 0,
        "already_present": total,
        "channel_id": expected["channel_id"],
        "channel_name": "memes",
        "guild_name": "Synthetic Guild",
    }

    aggregated = run_cli(
        "ingest", "discord-export", str(export), "--aggregate", "--json", env=HASHING
    )
    assert aggregated.code == 0, aggregated.stderr
    report = json.loads(aggregated.stdout)["aggregate"]
    assert report["events_seen"] == total and report["families_touched"] == 3
    assert report["duplicates_collapsed"] == expected["duplicates_collapsed"]
    assert report["aggregates_created"] == expected["aggregates"]

    found = run_cli("memory", "search", "giveaway nitro code", "--json", env=HASHING)
    assert found.code == 0, found.stderr
    top = json.loads(found.stdout)["results"][0]
    assert top["kind"] == "aggregate" and "giveaway-bot" in top["content"]
    tail = run_cli("events", "tail", "-n", "1", "--json")
    assert json.loads(tail.stdout)["type"] == "discord.message.created"


@pytest.mark.parametrize(
    ("content", "error"),
    [
        (None, "no such file"),
        ('{"messages": [', "is not valid JSON (line 1"),
        ('{"channel": {"id": "1"}}', "is not a DiscordChatExporter JSON export"),
        (
            '{"channel": {"id": "1"}, "messages": [{"id": "9"}]}',
            "message 1 (id 9): missing 'author.id'",
        ),
    ],
)
def test_bad_files_are_one_line_errors(
    isolated_home: Path, tmp_path: Path, content: str | None, error: str
) -> None:
    path = tmp_path / "export.json"
    if content is not None:
        path.write_text(content)
    result = run_cli("ingest", "discord-export", str(path))
    assert result.code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("cephalon: error:") and error in lines[0]
    assert "Traceback" not in result.stderr
    assert not list(isolated_home.rglob("*.duckdb"))  # nothing was created
