"""One aggregator chunk committed: fingerprints, families and aggregate memories together.

The chunk's new aggregate memories are embedded first (outside the transaction);
then one transaction appends the fingerprints, puts earlier burst founders into their
families, writes the families, inserts the new aggregate memories (with their
vectors) and rewrites the content of the existing ones in place; after the commit
the memory service indexes the new memories and re-indexes the rewritten text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from engine.clock import to_naive_utc
from engine.janitor.aggregate_text import aggregate_content, aggregate_record
from engine.janitor.tables import FAMILY_COLUMNS, AggregateRow, FamilyRow
from engine.memory.records import NewMemory
from engine.memory.repository import MemoryRepository
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import Store

Touched = dict[tuple[int, date], tuple[AggregateRow, bool]]
"""Aggregates a chunk changed, by (family, day), with whether each is new."""


@dataclass
class Chunk:
    """What one chunk changes."""

    rows: list[list[Any]]
    """Fingerprint rows, in ``event_fingerprints`` column order."""
    founders: dict[int, int]
    """Earlier (already stored) messages that now join a family: event id -> family."""
    families: dict[int, FamilyRow]
    """The families the chunk touched, with their new totals."""
    touched: Touched


def insert_fingerprints(cur: duckdb.DuckDBPyConnection, rows: list[tuple[Any, ...]]) -> None:
    """Append fingerprint rows (column order of the table)."""
    if rows:
        appender = cur.appender("event_fingerprints")
        appender.append_rows(rows)
        appender.flush()


def set_families(cur: duckdb.DuckDBPyConnection, founders: dict[int, int]) -> None:
    """Put earlier messages (first of their burst) into their family."""
    if founders:
        cur.execute(
            "UPDATE event_fingerprints SET family_id = m.family_id "
            "FROM (SELECT unnest($1) AS event_id, unnest($2) AS family_id) m "
            "WHERE event_fingerprints.event_id = m.event_id",
            [list(founders), list(founders.values())],
        )


def write_family(cur: duckdb.DuckDBPyConnection, row: FamilyRow, now: datetime) -> None:
    """Insert a new family or update the counts and span of an existing one."""
    stamp = to_naive_utc(now)
    if row.is_new:
        cur.execute(
            f"INSERT INTO spam_families ({FAMILY_COLUMNS}, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                row.id, row.channel_id, row.channel_name, row.author_id, row.author_name,
                row.topic, row.exact_hash, row.simhash, row.numbers, row.normalized_example,
                row.example, row.dup_count, row.near_count, to_naive_utc(row.first_ts),
                to_naive_utc(row.last_ts), stamp, stamp,
            ],
        )  # fmt: skip
        return
    cur.execute(
        "UPDATE spam_families SET dup_count = ?, near_count = ?, first_ts = ?, last_ts = ?, "
        "updated_at = ? WHERE id = ?",
        [
            row.dup_count, row.near_count, to_naive_utc(row.first_ts),
            to_naive_utc(row.last_ts), stamp, row.id,
        ],
    )  # fmt: skip


def write_aggregate(
    cur: duckdb.DuckDBPyConnection, row: AggregateRow, is_new: bool, now: datetime
) -> None:
    """Insert or update one aggregates row."""
    stamp = to_naive_utc(now)
    values = [
        row.memory_id, row.dup_count, to_naive_utc(row.first_ts), to_naive_utc(row.last_ts),
        row.sample_event_ids, row.examples,
    ]  # fmt: skip
    if is_new:
        cur.execute(
            "INSERT INTO aggregates (memory_id, dup_count, first_ts, last_ts, sample_event_ids, "
            "examples, family_id, day, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [*values, row.family_id, row.day, stamp, stamp],
        )
        return
    cur.execute(
        "UPDATE aggregates SET memory_id = ?, dup_count = ?, first_ts = ?, last_ts = ?, "
        "sample_event_ids = ?, examples = ?, updated_at = ? WHERE family_id = ? AND day = ?",
        [*values, stamp, row.family_id, row.day],
    )


def update_memory_content(
    cur: duckdb.DuckDBPyConnection,
    memory_id: int,
    content: str,
    record: dict[str, Any],
    event_ids: list[int],
    now: datetime,
) -> None:
    """Rewrite an aggregate memory in place (its vector is kept; see the aggregator)."""
    cur.execute(
        "UPDATE memories SET content = ?, source_meta = ?, event_ids = ?, updated_at = ? "
        "WHERE id = ?",
        [content, json.dumps(record, default=str), event_ids, to_naive_utc(now), memory_id],
    )


def aggregate_memory(
    family: FamilyRow, row: AggregateRow, policy: Policy, embed: bool
) -> NewMemory:
    """A new aggregate memory for one family's day.

    Args:
        family: the family.
        row: the day's aggregate.
        policy: the simhash threshold named in the text.
        embed: give it a vector.

    Returns:
        The memory (kind ``aggregate``; the structured record in ``source_meta``).
    """
    threshold = policy.dedupe.simhash_hamming_threshold
    record = aggregate_record(family, row, threshold)
    return NewMemory(
        kind="aggregate",
        content=aggregate_content(family, row, threshold),
        normalized_content=family.normalized_example,
        source="janitor",
        channel_id=family.channel_id,
        author_id=family.author_id,
        author_is_bot=True,
        source_meta=record,
        event_ids=list(row.sample_event_ids),
        event_ts=row.first_ts,
        source_tag="job",
        fingerprints=record["fingerprints"],
        tags=["spam_family"],
        embed=embed,
    )


def commit_chunk(
    store: Store, memory: MemoryService | None, policy: Policy, chunk: Chunk, now: datetime
) -> None:
    """Write one chunk in one transaction, then index what it created or rewrote.

    Args:
        store: the store, open read-write.
        memory: embeds and indexes aggregates (None: stored unembedded).
        policy: channel policies (``embed_aggregates``), dedupe, weights.
        chunk: what to write; new aggregates get their ``memory_id`` set.
        now: the stamp for every row.
    """
    threshold = policy.dedupe.simhash_hamming_threshold
    created: list[AggregateRow] = []
    items: list[NewMemory] = []
    updates: list[tuple[int, str, dict[str, Any], list[int]]] = []
    for row, _ in chunk.touched.values():
        family = chunk.families[row.family_id]
        if row.memory_id is None:
            embed = memory is not None and policy.channel(family.channel_id).embed_aggregates
            created.append(row)
            items.append(aggregate_memory(family, row, policy, embed))
        else:
            record = aggregate_record(family, row, threshold)
            content = aggregate_content(family, row, threshold)
            updates.append((row.memory_id, content, record, list(row.sample_event_ids)))
    prepared = memory.prepare(items) if memory is not None and items else None

    def job(cur: duckdb.DuckDBPyConnection) -> list[int]:
        insert_fingerprints(cur, [tuple(r) for r in chunk.rows])
        set_families(cur, chunk.founders)
        for family in chunk.families.values():
            write_family(cur, family, now)
        ids: list[int] = []
        if memory is not None and prepared is not None:
            ids = memory.insert_prepared(cur, prepared)
        elif items:
            w = policy.weights
            priors = ((w.prior_alpha, w.prior_beta), (w.immutable_alpha, w.immutable_beta))
            ids = MemoryRepository(store).insert(cur, items, now, *priors)
        for row, memory_id in zip(created, ids, strict=True):
            row.memory_id = memory_id
        for row, is_new in chunk.touched.values():
            write_aggregate(cur, row, is_new, now)
        for memory_id, content, record, samples in updates:
            update_memory_content(cur, memory_id, content, record, samples, now)
        return ids

    ids = store.write(job)
    for family in chunk.families.values():
        family.is_new = False
    if memory is not None:
        if prepared is not None:
            memory.index_prepared(ids, prepared)
        memory.repo.content_cache.forget([u[0] for u in updates])
        for memory_id, content, _, _ in updates:
            memory.keyword.add(memory_id, content)
