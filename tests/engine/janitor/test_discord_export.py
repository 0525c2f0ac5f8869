"""Importing DiscordChatExporter JSON: the event mapping, idempotency, clear errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from engine.ingest import ExportError, ingest_export, load_export
from engine.store import EventLog, Store
from tests.engine.janitor.synthetic_export import make_export


def _export(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "guild": {"id": "10", "name": "Guild"},
        "channel": {"id": "20", "type": "GuildTextChat", "name": "general"},
        "messages": messages,
    }


def _msg(mid: str, ts: str, content: str, *, bot: bool = False, **extra: Any) -> dict[str, Any]:
    author = {"id": "u" + mid, "name": "user" + mid, "isBot": bot}
    return {"id": mid, "timestamp": ts, "content": content, "author": author, **extra}


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_messages_become_discord_events(tmp_path: Path, store: Store) -> None:
    field = {"name": "branch", "value": "main"}
    path = _write(
        tmp_path / "e.json",
        _export(
            [
                _msg("2", "2024-03-05T10:00:05.123+01:00", "later one"),
                _msg(
                    "1", "2024-03-05T08:59:00+00:00", "", bot=True,
                    embeds=[{"title": "Build", "description": "failed", "fields": [field]}],
                    attachments=[{"id": "a"}],
                ),
            ]
        ),
    )  # fmt: skip
    export = load_export(path)
    assert (export.channel_id, export.channel_name, export.guild_name) == ("20", "general", "Guild")
    report = ingest_export(store, export)
    assert (report.messages, report.added, report.already_present) == (2, 2, 0)
    first, second = EventLog(store).tail()
    assert first.type == "discord.message.created" and first.source == "discord-export"
    assert first.ts == datetime(2024, 3, 5, 8, 59, tzinfo=UTC)  # oldest first
    assert (first.channel_id, first.author_id, first.author_is_bot) == ("20", "u1", True)
    assert first.payload["embed_text"] == "Build\nfailed\nbranch\nmain"
    assert (first.payload["attachment_count"], first.payload["embed_count"]) == (1, 1)
    assert second.ts == datetime(2024, 3, 5, 9, 0, 5, 123000, tzinfo=UTC)
    assert second.payload == {
        "message_id": "2",
        "author_name": "user2",
        "content": "later one",
        "guild_id": "10",
        "guild_name": "Guild",
        "channel_name": "general",
        "message_type": "Default",
        "attachment_count": 0,
        "embed_count": 0,
    }
    assert second.author_is_bot is False and second.content_hash is not None


def test_reimport_adds_nothing_and_overlap_adds_only_new(tmp_path: Path, store: Store) -> None:
    expected = make_export(tmp_path / "big.json", bot_families=2, per_family=300, humans=50)
    export = load_export(tmp_path / "big.json")
    ticks: list[tuple[int, int]] = []
    first = ingest_export(store, export, batch=128, progress=lambda d, t: ticks.append((d, t)))
    assert first.added == expected["messages"] and ticks[-1] == (first.messages, first.messages)
    again = ingest_export(store, load_export(tmp_path / "big.json"), batch=128)
    assert (again.added, again.already_present) == (0, expected["messages"])
    assert EventLog(store).count() == expected["messages"]

    doc = json.loads((tmp_path / "big.json").read_text())
    doc["messages"] = [
        *doc["messages"][-10:],
        _msg("77", "2030-01-01T00:00:00+00:00", "brand new"),
        _msg("77", "2030-01-01T00:00:00+00:00", "brand new"),  # listed twice in one file
    ]
    overlap = ingest_export(store, load_export(_write(tmp_path / "next.json", doc)))
    assert (overlap.added, overlap.already_present) == (1, 11)
    assert EventLog(store).count() == expected["messages"] + 1


def test_a_message_that_arrives_live_during_the_import_is_not_doubled(
    tmp_path: Path, store: Store
) -> None:
    messages = [_msg(str(i), f"2024-01-01T00:{i:02d}:00Z", f"m{i}") for i in range(1, 9)]
    export = load_export(_write(tmp_path / "e.json", _export(messages)))
    live = export.events[6]  # message 7, as a live Discord channel would log it

    def progress(done: int, total: int) -> None:
        if done == 2:
            EventLog(store).append(live)

    report = ingest_export(store, export, batch=2, progress=progress)
    assert (report.added, report.already_present) == (7, 1)
    ids = [e.payload["message_id"] for e in EventLog(store).tail()]
    assert sorted(ids, key=int) == [str(i) for i in range(1, 9)]


def test_same_message_id_in_another_channel_is_another_message(
    tmp_path: Path, store: Store
) -> None:
    doc = _export([_msg("5", "2024-01-01T00:00:00Z", "hi")])
    ingest_export(store, load_export(_write(tmp_path / "a.json", doc)))
    doc["channel"]["id"] = "21"
    assert ingest_export(store, load_export(_write(tmp_path / "b.json", doc))).added == 1


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"messages": [', "is not valid JSON (line 1, column 15"),
        (b'{"a": "\xc3\x28"}', "is not UTF-8 text"),
        (b"[1, 2]", "is not a DiscordChatExporter JSON export (no 'messages' list)"),
        (b'{"messages": []}', "no 'channel.id'"),
    ],
)
def test_bad_files_are_one_clear_error(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(content)
    with pytest.raises(ExportError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_export(path)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="no such file"):
        load_export(tmp_path / "missing.json")
    with pytest.raises(ExportError, match="not a file"):
        load_export(tmp_path)


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"timestamp": "2024-01-01T00:00:00Z", "author": {"id": "1"}}, "message 1: missing 'id'"),
        ({"id": "9", "timestamp": "yesterday", "author": {"id": "1"}}, "bad timestamp 'yesterday'"),
        ({"id": "9", "timestamp": "2024-01-01T00:00:00Z"}, "missing 'author.id'"),
        (
            {"id": "9", "timestamp": "2024-01-01T00:00:00Z", "author": {"id": "1", "isBot": "no"}},
            "'author.isBot' must be true or false",
        ),
        (
            {"id": "9", "timestamp": "2024-01-01T00:00:00Z", "author": {"id": "1"}, "content": 5},
            "'content' must be a string",
        ),
    ],
)
def test_bad_messages_name_the_message(
    tmp_path: Path, message: dict[str, Any], problem: str
) -> None:
    path = _write(tmp_path / "e.json", _export([message]))
    with pytest.raises(ExportError) as info:
        load_export(path)
    assert problem in str(info.value) and "\n" not in str(info.value)
