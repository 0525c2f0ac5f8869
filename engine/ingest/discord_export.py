"""Import a DiscordChatExporter JSON export into the event log.

An export (``DiscordChatExporter.Cli export --format Json``) is one channel:
``{"guild": {...}, "channel": {...}, "messages": [...]}`` where each message has
``id``, ``timestamp`` (ISO 8601 with offset), ``author`` ``{id, name, isBot}``,
``content`` and optionally ``type``, ``embeds`` and ``attachments``.

Each message becomes one ``discord.message.created`` event (source
``discord-export``) with the message's time, channel, author and ``author_is_bot``,
and a payload holding ``message_id``, ``author_name``, ``content``, ``guild_id``,
``guild_name``, ``channel_name``, ``message_type``, ``attachment_count``,
``embed_count`` and, when the message has embeds, ``embed_text`` (their titles,
descriptions and fields: bots often post nothing else).

Importing is idempotent: a message whose id is already in the log as a
``discord.message.created`` event of the same channel is skipped, so re-importing
a file (or an overlapping later export) adds only what is new. The whole file is
read into memory (exports of a few hundred MB need a few GB).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from engine.errors import CephalonError
from engine.models import EventType, NewEvent
from engine.store import Store
from engine.store.events import insert_events

SOURCE = "discord-export"


class ExportError(CephalonError):
    """The file is missing, unreadable or not a DiscordChatExporter JSON export."""


@dataclass(frozen=True)
class DiscordExport:
    """A parsed export: its channel and its messages as events, oldest first."""

    path: Path
    guild_id: str | None
    guild_name: str | None
    channel_id: str
    channel_name: str | None
    events: list[NewEvent]


@dataclass(frozen=True)
class IngestReport:
    """What an import did."""

    messages: int
    """Messages in the file."""
    added: int
    """Events appended now."""
    already_present: int
    """Messages skipped because their id was already in the log."""
    channel_id: str
    channel_name: str | None
    guild_name: str | None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _embed_text(embeds: Any) -> str:
    parts: list[str] = []
    for embed in embeds if isinstance(embeds, list) else []:
        if not isinstance(embed, dict):
            continue
        parts += [_text(embed.get(key)) for key in ("title", "description")]
        for item in embed.get("fields") or []:
            if isinstance(item, dict):
                parts += [_text(item.get("name")), _text(item.get("value"))]
        footer = embed.get("footer")
        if isinstance(footer, dict):
            parts.append(_text(footer.get("text")))
    return "\n".join(p for p in parts if p.strip())


def _timestamp(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{where}: 'timestamp' must be an ISO 8601 string")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{where}: bad timestamp {value!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def _event(message: Any, index: int, guild: dict[str, Any], channel: dict[str, Any]) -> NewEvent:
    where = f"message {index + 1}"
    if not isinstance(message, dict):
        raise ValueError(f"{where}: not an object")
    message_id = message.get("id")
    if not isinstance(message_id, str | int) or isinstance(message_id, bool) or not message_id:
        raise ValueError(f"{where}: missing 'id'")
    where = f"message {index + 1} (id {message_id})"
    author = message.get("author")
    if not isinstance(author, dict) or not isinstance(author.get("id"), str | int):
        raise ValueError(f"{where}: missing 'author.id'")
    is_bot = author.get("isBot", False)
    if not isinstance(is_bot, bool):
        raise ValueError(f"{where}: 'author.isBot' must be true or false")
    content = message.get("content", "")
    if not isinstance(content, str):
        raise ValueError(f"{where}: 'content' must be a string")
    embeds = message.get("embeds") or []
    payload: dict[str, Any] = {
        "message_id": str(message_id),
        "author_name": _text(author.get("nickname")) or _text(author.get("name")),
        "content": content,
        "guild_id": guild.get("id"),
        "guild_name": guild.get("name"),
        "channel_name": channel.get("name"),
        "message_type": _text(message.get("type")) or "Default",
        "attachment_count": len(message.get("attachments") or []),
        "embed_count": len(embeds) if isinstance(embeds, list) else 0,
    }
    embed_text = _embed_text(embeds)
    if embed_text:
        payload["embed_text"] = embed_text
    return NewEvent(
        type=EventType.DISCORD_MESSAGE_CREATED,
        source=SOURCE,
        ts=_timestamp(message.get("timestamp"), where),
        channel_id=str(channel["id"]),
        author_id=str(author["id"]),
        author_is_bot=is_bot,
        payload=payload,
        content=content,
    )


def load_export(path: Path) -> DiscordExport:
    """Read and validate an export.

    Args:
        path: the JSON file.

    Returns:
        The export with one event per message, oldest first.

    Raises:
        ExportError: the file is missing or unreadable, not JSON, not shaped like a
            DiscordChatExporter export, or a message lacks a required field.
    """
    if not path.exists():
        raise ExportError(f"no such file: {path}")
    if not path.is_file():
        raise ExportError(f"not a file: {path}")
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ExportError(f"cannot read {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ExportError(f"{path} is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise ExportError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("messages"), list):
        raise ExportError(f"{path} is not a DiscordChatExporter JSON export (no 'messages' list)")
    channel = data.get("channel")
    if not isinstance(channel, dict) or not isinstance(channel.get("id"), str | int):
        raise ExportError(f"{path} is not a DiscordChatExporter JSON export (no 'channel.id')")
    guild: dict[str, Any] = data["guild"] if isinstance(data.get("guild"), dict) else {}
    try:
        events = [_event(m, i, guild, channel) for i, m in enumerate(data["messages"])]
    except ValueError as exc:
        raise ExportError(f"{path}: {exc}") from None
    events.sort(key=lambda e: e.ts)
    return DiscordExport(
        path, guild.get("id"), guild.get("name"), str(channel["id"]), channel.get("name"), events
    )


def _present_ids(
    cur: duckdb.DuckDBPyConnection, channel_id: str, after_id: int = 0
) -> tuple[set[str], int]:
    """Message ids of the channel's ``discord.message.created`` events with an event id
    above ``after_id``, and the highest event id seen."""
    rows = cur.execute(
        "SELECT json_extract_string(payload, '$.message_id'), id FROM events "
        "WHERE id > ? AND type = ? AND channel_id = ?",
        [after_id, EventType.DISCORD_MESSAGE_CREATED.value, channel_id],
    ).fetchall()
    return {str(r[0]) for r in rows}, max((int(r[1]) for r in rows), default=after_id)


def ingest_export(
    store: Store,
    export: DiscordExport,
    *,
    batch: int = 2000,
    progress: Callable[[int, int], None] | None = None,
) -> IngestReport:
    """Append an export's messages that are not in the log yet, one transaction per batch.

    Args:
        store: the store, open read-write.
        export: what :func:`load_export` returned.
        batch: messages checked and appended per transaction.
        progress: called as ``progress(done, total)`` after each batch.

    Returns:
        Counts of messages, events added and messages already present.

    Raises:
        StoreError: the store is read-only.
    """
    total = len(export.events)
    added = 0
    seen, last_id = _present_ids(store.reader(), export.channel_id)
    for start in range(0, total, batch):
        chunk = []
        for event in export.events[start : start + batch]:
            if event.payload["message_id"] not in seen:  # also: listed twice in one file
                seen.add(event.payload["message_id"])
                chunk.append(event)

        def job(cur: duckdb.DuckDBPyConnection, chunk: list[NewEvent] = chunk) -> int:
            nonlocal last_id
            # messages that came in another way (a live channel) since the last look
            arrived, last_id = _present_ids(cur, export.channel_id, last_id)
            seen.update(arrived)
            fresh = [e for e in chunk if e.payload["message_id"] not in arrived]
            if fresh:
                assert store.writer is not None
                first = store.writer.ids.take("events", len(fresh))
                last_id = insert_events(cur, first, fresh)[-1]
            return len(fresh)

        added += store.write(job)
        if progress:
            progress(min(start + batch, total), total)
    return IngestReport(
        total, added, total - added, export.channel_id, export.channel_name, export.guild_name
    )
