"""The working transcript: the recent exchanges a turn continues from."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

import duckdb

from engine.llm.base import ChatMessage
from engine.store import Store

Exchange = tuple[str | None, str | None]
"""(input, reply) of one committed turn."""


def recent_exchanges(
    cur: duckdb.DuckDBPyConnection, turns: int, channel_id: str | None = None
) -> list[Exchange]:
    """The last committed exchanges of a channel, oldest first.

    Args:
        cur: a read cursor.
        turns: at most this many exchanges.
        channel_id: the channel (None: the local console).

    Returns:
        (input, reply) per turn.
    """
    rows = cur.execute(
        "SELECT input, output FROM turns WHERE status = 'committed' "
        "AND channel_id IS NOT DISTINCT FROM ? ORDER BY id DESC LIMIT ?",
        [channel_id, turns],
    ).fetchall()
    return [(r[0], r[1]) for r in reversed(rows)]


def as_messages(exchanges: Iterable[Exchange]) -> list[ChatMessage]:
    """User and assistant messages in order (an empty input or reply is left out)."""
    messages: list[ChatMessage] = []
    for text, output in exchanges:
        if text:
            messages.append(ChatMessage(role="user", content=str(text)))
        if output:
            messages.append(ChatMessage(role="assistant", content=str(output)))
    return messages


class TranscriptCache:
    """The working transcript per channel, read from the store once, then kept up to
    date by the turn runner as its turns commit (no one else commits turns)."""

    def __init__(self, store: Store) -> None:
        """Create the cache.

        Args:
            store: where committed turns are read from the first time.
        """
        self.store = store
        self.turns = 0
        self._exchanges: dict[str | None, deque[Exchange]] = {}
        self._lock = threading.Lock()

    def get(self, turns: int, channel_id: str | None = None) -> list[ChatMessage]:
        """The channel's last committed exchanges as messages, oldest first (the context
        assembler trims the oldest), read from the store the first time only.

        Args:
            turns: at most this many exchanges (``context.transcript_turns``; a new
                value starts the cache over).
            channel_id: the channel (None: the local console).

        Returns:
            User and assistant messages in order.
        """
        with self._lock:
            if turns != self.turns:
                self._exchanges.clear()
                self.turns = turns
            kept = self._exchanges.get(channel_id)
            if kept is None:
                read = recent_exchanges(self.store.reader(), self.turns, channel_id)
                kept = self._exchanges[channel_id] = deque(read, maxlen=self.turns)
            return as_messages(kept)

    def committed(self, channel_id: str | None, text: str, output: str | None) -> None:
        """A turn of the channel committed (call after its transaction).

        Args:
            channel_id: its channel.
            text: its input.
            output: its reply, if any.
        """
        with self._lock:
            kept = self._exchanges.get(channel_id)
            if kept is not None:  # not read yet: the store has it
                kept.append((text, output))
