"""The local console channel: the operator's chat in the TUI or ``cephalon chat``.

Inputs the operator types go in with :meth:`LocalChannel.post`: each becomes a
``local.message.created`` event, is appended to the event log when one was
given, handed to ``on_event`` and queued on :attr:`LocalChannel.inbox` for
consumers that poll. What the agent sends is kept in the channel's history and
emitted to the console through the ``emit`` callback. Everything is in memory.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable

from engine.channels.base import ChannelEvent, ChannelInfo, ChannelMessage, EventCallback
from engine.channels.errors import ChannelError, ChannelNotAllowedError
from engine.clock import Clock, SystemClock
from engine.models import EventType, NewEvent
from engine.store import EventLog

LOCAL_CHANNEL_ID = "local"
AGENT_ID = "cephalon"


class LocalChannel:
    """An in-memory channel whose speech goes to a console callback."""

    def __init__(
        self,
        emit: Callable[[ChannelMessage], None] | None = None,
        *,
        clock: Clock | None = None,
        event_log: EventLog | None = None,
    ) -> None:
        """Create the channel.

        Args:
            emit: shows what the agent sends (the TUI's chat pane, stdout...).
            clock: time source.
            event_log: where operator inputs are appended (None: the receiver appends).
        """
        self._emit = emit
        self._clock = clock or SystemClock()
        self._event_log = event_log
        self._on_event: EventCallback | None = None
        self._messages: list[ChannelMessage] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._running = False
        self.inbox: queue.Queue[ChannelEvent] = queue.Queue()
        """Every received event, for consumers that poll instead of using ``on_event``."""

    @property
    def name(self) -> str:
        """``"local"``."""
        return "local"

    def start(self, on_event: EventCallback | None = None) -> None:
        """Start delivering operator inputs (see :meth:`Channel.start`)."""
        self._on_event = on_event
        self._running = True

    def stop(self) -> None:
        """Stop delivering inputs. Idempotent."""
        self._running = False
        self._on_event = None

    def _store(self, author_id: str, author_name: str, text: str, own: bool) -> ChannelMessage:
        with self._lock:
            msg = ChannelMessage(
                id=str(next(self._ids)),
                channel_id=LOCAL_CHANNEL_ID,
                author_id=author_id,
                author_name=author_name,
                author_is_bot=own,
                content=text,
                ts=self._clock.now(),
                from_self=own,
            )
            self._messages.append(msg)
        return msg

    def post(self, text: str, author: str = "operator") -> ChannelEvent:
        """The operator said something.

        Args:
            text: what they typed.
            author: who (shown in history).

        Returns:
            The event, with its id when an event log was given.

        Raises:
            ChannelError: the channel is not started or the text is blank.
        """
        if not self._running:
            raise ChannelError("the local channel is not started")
        if not text.strip():
            raise ChannelError("an input needs some text")
        msg = self._store(author, author, text, own=False)
        event = NewEvent(
            type=EventType.LOCAL_MESSAGE_CREATED,
            source="operator",
            ts=msg.ts,
            channel_id=LOCAL_CHANNEL_ID,
            author_id=author,
            payload={"content": text, "message_id": msg.id},
        )
        event_id = self._event_log.append(event) if self._event_log is not None else None
        received = ChannelEvent(self.name, event, event_id)
        self.inbox.put(received)
        if self._on_event is not None:
            self._on_event(received)
        return received

    def _check(self, channel_id: str) -> None:
        if channel_id != LOCAL_CHANNEL_ID:
            raise ChannelNotAllowedError(
                f"the local channel has one channel, {LOCAL_CHANNEL_ID!r}, not {channel_id!r}"
            )

    def send(self, channel_id: str, text: str) -> list[str]:
        """Show the agent's text on the console (see :meth:`Channel.send`)."""
        self._check(channel_id)
        if not text.strip():
            raise ChannelError("nothing to send: the text is blank")
        msg = self._store(AGENT_ID, AGENT_ID, text, own=True)
        if self._emit is not None:
            self._emit(msg)
        return [msg.id]

    def history(
        self, channel_id: str, limit: int, before: str | None = None
    ) -> list[ChannelMessage]:
        """Messages of this session, newest first (see :meth:`Channel.history`)."""
        self._check(channel_id)
        with self._lock:
            newest_first = list(reversed(self._messages))
        if before is not None:
            newest_first = [m for m in newest_first if int(m.id) < int(before)]
        return newest_first[: max(limit, 0)]

    def list_channels(self) -> list[ChannelInfo]:
        """The one console channel."""
        return [ChannelInfo(LOCAL_CHANNEL_ID, "console")]

    def delete(self, channel_id: str, message_id: str) -> bool:
        """Forget one message of this session (see :meth:`Channel.delete`)."""
        self._check(channel_id)
        with self._lock:
            kept = [m for m in self._messages if m.id != message_id]
            deleted = len(kept) != len(self._messages)
            self._messages = kept
        return deleted
