"""Intake: an input becomes an event and a pending attention candidate, durably, at once.

Nothing acts on an input before this transaction commits, so a crash right after
``submit`` returns loses nothing: the candidate is still pending on restart.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import duckdb

from engine.clock import Clock
from engine.errors import CephalonError
from engine.mind.attention import Candidate
from engine.mind.candidate_queue import CandidateQueue
from engine.models import EventType, NewEvent
from engine.policy import Policy
from engine.store import Store
from engine.store.events import insert_events
from engine.tools.registry import SourceTag

INPUT_SOURCES = ("operator", "channel", "gut", "job", "dmn")
"""Where a candidate comes from (each has an urgency in ``attention.urgency``)."""

_TAGS = {
    "operator": SourceTag.OPERATOR,
    "channel": SourceTag.CHANNEL,
    "gut": SourceTag.SYSTEM,
    "job": SourceTag.JOB,
    "dmn": SourceTag.DMN,
}


@dataclass(frozen=True)
class Submitted:
    """What intake stored."""

    event_id: int
    candidate_id: int


class Intake:
    """Appends inputs as events and queues them as candidates."""

    def __init__(
        self,
        store: Store,
        policy: Policy,
        clock: Clock,
        prefetch: Callable[[Sequence[str]], None] | None = None,
        queue: CandidateQueue | None = None,
    ) -> None:
        """Create the intake.

        Args:
            store: where inputs go.
            policy: urgencies per source.
            clock: the engine's clock.
            prefetch: starts embedding an input in the background as it is stored
                (:meth:`engine.memory.service.MemoryService.prefetch_embeddings`).
            queue: the attention queue the turns read (default: a queue of its own).
        """
        self.queue = queue if queue is not None else CandidateQueue(store, clock)
        self.store = store
        self.policy = policy
        self.clock = clock
        self.prefetch = prefetch

    def submit(
        self,
        text: str,
        *,
        source: str = "operator",
        channel_id: str | None = None,
        author_id: str | None = None,
        author_is_bot: bool = False,
        event_type: EventType = EventType.LOCAL_MESSAGE_CREATED,
        event_id: int | None = None,
    ) -> Submitted:
        """Store an input and queue it for attention, in one transaction.

        Args:
            text: the input.
            source: ``operator``, ``channel``, ``gut``, ``job`` or ``dmn``.
            channel_id: where it came from (a reply goes back there).
            author_id: who wrote it.
            author_is_bot: written by a bot.
            event_type: the event to append.
            event_id: the input is already an event (e.g. a Discord message the channel
                appended): queue that one instead of appending another.

        Returns:
            The event and candidate ids.

        Raises:
            CephalonError: empty text or an unknown source.
        """
        if not text.strip():
            raise CephalonError("an input needs some text")
        if source not in _TAGS:
            raise CephalonError(f"unknown input source {source!r}; one of {', '.join(_TAGS)}")
        urgency = float(getattr(self.policy.attention.urgency, source))
        if self.prefetch is not None:  # its turn will embed it: overlap that with the write
            self.prefetch([text])
        now = self.clock.now()
        event = NewEvent(
            type=event_type,
            source=source,
            ts=now,
            channel_id=channel_id,
            author_id=author_id or source,
            author_is_bot=author_is_bot,
            payload={"content": text, "source_tag": _TAGS[source].value},
        )

        def job(cur: duckdb.DuckDBPyConnection) -> Candidate:
            assert self.store.writer is not None
            ids = self.store.writer.ids
            stored_id = event_id
            if stored_id is None:
                (stored_id,) = insert_events(cur, ids.take("events"), [event])
            return self.queue.insert(
                cur,
                source=source,
                text=text,
                created_at=now,
                urgency=urgency,
                source_tag=_TAGS[source].value,
                channel_id=channel_id,
                event_id=stored_id,
            )

        queued = self.store.write(job)
        self.queue.committed(queued)
        assert queued.event_id is not None
        return Submitted(queued.event_id, queued.id)
