"""The aggregator: fingerprint pending message events, collapse bot spam into families,
keep one aggregate memory per family per UTC day.

For every message event without a fingerprint (``discord.message.created`` and
``local.message.created``, humans included), in time order and in chunks of
``dedupe.batch_events`` (one transaction each): normalize and fingerprint it
(:mod:`engine.memory.normalize`); for a bot message, when the policy aggregates bot
duplicates, match it against earlier ones (:mod:`engine.janitor.dedupe`). Members of
a family are counted into the family and into its aggregate for the message's day.

Aggregate memories (kind ``aggregate``) are created with their first duplicates and
embedded once, on creation, when the channel's ``embed_aggregates`` allows it. Later
chunks rewrite their content in place (counts, time range, samples) and refresh the
keyword index, but do not re-embed: the vector stands for the family's pattern and
topic, which do not change as the counts grow. Raw bot duplicates never become
memories here (and so never get a vector); human messages get only their fingerprint
(minting them is the minting rules' job, see :mod:`engine.memory.mint_apply`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from engine.clock import Clock, to_naive_utc
from engine.janitor.aggregate_text import family_topic, snippet
from engine.janitor.commit import Chunk, Touched, commit_chunk
from engine.janitor.dedupe import FamilyMatcher, Match
from engine.janitor.report import AggregateReport, FamilyStat, suppress_suggestions
from engine.janitor.tables import (
    AggregateRow,
    FamilyRow,
    PendingEvent,
    family_patterns,
    load_aggregates,
    load_families,
    pending_events,
    pending_ids,
    recent_bot_fingerprints,
)
from engine.memory.normalize import Fingerprint, Normalizer
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store

__all__ = ["AggregateReport", "Aggregator", "FamilyStat"]


@dataclass
class _Run:
    events: int = 0
    bots: int = 0
    humans: int = 0
    collapsed: int = 0
    created: set[tuple[int, date]] = field(default_factory=set)
    updated: set[tuple[int, date]] = field(default_factory=set)
    families: dict[int, FamilyRow] = field(default_factory=dict)
    new_families: set[int] = field(default_factory=set)


@dataclass
class _Member:
    family_id: int
    event_id: int
    ts: datetime
    text: str | None
    kind: str | None


class Aggregator:
    """Turns pending message events into fingerprints, spam families and aggregates."""

    def __init__(
        self, store: Store, memory: MemoryService | None, policy: Policy, clock: Clock
    ) -> None:
        """Bind the aggregator to a store.

        Args:
            store: the store, open read-write.
            memory: embeds and indexes aggregate memories; None stores them unembedded
                (the keyword index finds them after the next open).
            policy: ``normalize``, ``dedupe``, ``channels`` and ``janitor.top_n``.
            clock: stamps rows and decides what is "today".
        """
        self.store = store
        self.memory = memory
        self.policy = policy
        self.clock = clock
        self.normalizer = Normalizer(policy.normalize)

    def process_pending(
        self, progress: Callable[[int, int], None] | None = None, limit: int | None = None
    ) -> AggregateReport:
        """Fingerprint every pending message event and update families and aggregates.

        Args:
            progress: called as ``progress(done, total)`` after each chunk.
            limit: process at most this many events (the oldest first).

        Returns:
            Counts, the largest families touched and the families first seen now.

        Raises:
            StoreError: the store is read-only.
        """
        reader = self.store.reader()
        ids = pending_ids(reader, limit)
        batch = self.policy.dedupe.batch_events
        run = _Run()
        matcher: FamilyMatcher | None = None
        for start in range(0, len(ids), batch):
            events = pending_events(reader, ids[start : start + batch])
            if not events:
                continue
            if matcher is None:
                matcher = self._warm_matcher(events[0].ts)
            self._process_chunk(events, matcher, run)
            if progress:
                progress(run.events, len(ids))
        return self._report(run)

    def _new_family_id(self) -> int:
        def take(_cur: Any) -> int:
            assert self.store.writer is not None
            return self.store.writer.ids.take("spam_families")

        return self.store.write(take)

    def _warm_matcher(self, first_ts: datetime) -> FamilyMatcher:
        dedupe = self.policy.dedupe
        matcher = FamilyMatcher(dedupe, self._new_family_id)
        reader = self.store.reader()
        for family_id, channel, fp in family_patterns(reader):
            matcher.remember_family(family_id, channel, fp)
        horizon = timedelta(seconds=max(dedupe.exact_ttl_seconds, dedupe.near_window_seconds))
        for event_id, channel, ts, fp, family in recent_bot_fingerprints(
            reader, first_ts - horizon
        ):
            matcher.remember(event_id, channel, ts.timestamp(), fp, family)
        return matcher

    def _process_chunk(self, events: list[PendingEvent], matcher: FamilyMatcher, run: _Run) -> None:
        now = self.clock.now()
        stamp = to_naive_utc(now)
        aggregate = self.policy.dedupe.aggregate_bot_dupes
        rows: list[list[Any]] = []
        position: dict[int, int] = {}
        founders: dict[int, int] = {}
        members: list[_Member] = []
        for event in events:
            fp = self.normalizer.fingerprint(event.text)
            run.events += 1
            run.bots += event.author_is_bot
            run.humans += not event.author_is_bot
            match = Match(None)
            if event.author_is_bot and aggregate and fp.normalized:
                match = matcher.observe(event.id, event.channel_id, event.ts.timestamp(), fp)
            position[event.id] = len(rows)
            rows.append(
                [
                    event.id, to_naive_utc(event.ts), event.channel_id, event.author_id,
                    event.author_is_bot, fp.normalized, fp.exact_hash, fp.simhash, fp.numbers,
                    match.family_id, match.duplicate_of, match.kind, stamp,
                ]
            )  # fmt: skip
            if match.family_id is None:
                continue
            if match.new_family:
                self._found_family(run, match, event, fp)
            if match.founder is not None and match.founder_ts is not None:
                if match.founder in position:
                    rows[position[match.founder]][9] = match.family_id
                else:
                    founders[match.founder] = match.family_id
                founder_ts = datetime.fromtimestamp(match.founder_ts, event.ts.tzinfo)
                members.append(_Member(match.family_id, match.founder, founder_ts, None, None))
            members.append(_Member(match.family_id, event.id, event.ts, event.text, match.kind))
        touched = self._apply_members(run, members)
        families = {key[0]: run.families[key[0]] for key in touched}
        commit_chunk(
            self.store, self.memory, self.policy, Chunk(rows, founders, families, touched), now
        )
        run.created.update(key for key, (_, is_new) in touched.items() if is_new)
        run.updated.update(key for key, (_, is_new) in touched.items() if not is_new)

    def _found_family(self, run: _Run, match: Match, event: PendingEvent, fp: Fingerprint) -> None:
        assert match.family_id is not None and match.founder_ts is not None
        first = datetime.fromtimestamp(match.founder_ts, event.ts.tzinfo)
        row = FamilyRow(
            match.family_id, event.channel_id, event.channel_name, event.author_id,
            event.author_name, "", fp.exact_hash, fp.simhash, fp.numbers, fp.normalized,
            snippet(event.text), 0, 0, first, first, is_new=True,
        )  # fmt: skip
        row.topic = family_topic(row)
        run.families[row.id] = row
        run.new_families.add(row.id)

    def _apply_members(self, run: _Run, members: list[_Member]) -> Touched:
        """Count members into their families and day aggregates; returns touched aggregates
        by (family, day) with whether each is new."""
        reader = self.store.reader()
        ids = {m.family_id for m in members}
        missing = [i for i in ids if i not in run.families]
        run.families.update(load_families(reader, missing))
        existing = load_aggregates(reader, ids)
        touched: Touched = {}
        dedupe = self.policy.dedupe
        for m in members:
            family = run.families[m.family_id]
            family.dup_count += 1
            family.near_count += m.kind == "near"
            run.collapsed += m.kind is not None
            family.first_ts, family.last_ts = min(family.first_ts, m.ts), max(family.last_ts, m.ts)
            key = (m.family_id, m.ts.date())
            if key not in touched:
                old = existing.get(key)
                row = old or AggregateRow(m.family_id, key[1], None, 0, m.ts, m.ts)
                touched[key] = (row, old is None)
            row = touched[key][0]
            row.dup_count += 1
            row.first_ts, row.last_ts = min(row.first_ts, m.ts), max(row.last_ts, m.ts)
            if len(row.sample_event_ids) < dedupe.aggregate_sample_ids:
                row.sample_event_ids.append(m.event_id)
            text = snippet(m.text) if m.text else None
            if text and len(row.examples) < dedupe.aggregate_examples and text not in row.examples:
                row.examples.append(text)
        return touched

    def _stat(self, family: FamilyRow) -> FamilyStat:
        return FamilyStat(
            family.id, family.channel_id, family.topic, family.dup_count, family.first_ts,
            family.last_ts, family.example, family.first_ts.date() == self.clock.now().date(),
        )  # fmt: skip

    def _report(self, run: _Run) -> AggregateReport:
        top_n = self.policy.janitor.top_n

        def largest(ids: Any) -> list[FamilyStat]:
            rows = sorted((run.families[i] for i in ids), key=lambda f: (-f.dup_count, f.id))
            return [self._stat(f) for f in rows[:top_n]]

        return AggregateReport(
            events_seen=run.events,
            bot_events=run.bots,
            human_events=run.humans,
            duplicates_collapsed=run.collapsed,
            families_touched=len(run.families),
            aggregates_created=len(run.created),
            aggregates_updated=len(run.updated - run.created),
            top_families=largest(run.families),
            new_patterns=largest(run.new_families),
        )

    def suppress_suggestions(self, report: AggregateReport) -> list[dict[str, Any]]:
        """Propose suppress rules for the report's large families (an operator approves).

        Args:
            report: what :meth:`process_pending` returned.

        Returns:
            ``discord.add_suppress_rule`` argument dicts (``channel_id``, ``rule``) with
            ``family_id``, ``dup_count``, ``reason`` and ``status: proposed``; empty when
            ``janitor.propose_suppress_rules`` is off.
        """
        return suppress_suggestions(self.store.reader(), self.policy, report)
