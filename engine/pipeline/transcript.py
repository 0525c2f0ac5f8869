"""The working transcript: the recent exchanges a turn continues from."""

from __future__ import annotations

import duckdb

from engine.llm.base import ChatMessage


def recent_transcript(
    cur: duckdb.DuckDBPyConnection, turns: int, channel_id: str | None = None
) -> list[ChatMessage]:
    """The last committed exchanges of a channel, oldest first.

    Args:
        cur: a read cursor.
        turns: at most this many exchanges (each is the input and, if any, the reply).
        channel_id: the channel (None: the local console).

    Returns:
        User and assistant messages in order (the context assembler trims the oldest).
    """
    rows = cur.execute(
        "SELECT input, output FROM turns WHERE status = 'committed' "
        "AND channel_id IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT ?",
        [channel_id, turns],
    ).fetchall()
    messages: list[ChatMessage] = []
    for text, output in reversed(rows):
        if text:
            messages.append(ChatMessage(role="user", content=str(text)))
        if output:
            messages.append(ChatMessage(role="assistant", content=str(output)))
    return messages
