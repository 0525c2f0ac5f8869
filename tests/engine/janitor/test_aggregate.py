"""The aggregator on a real store: families, per-day aggregate memories, embedding once,
raw duplicates never embedded, humans left alone, incremental runs, reports."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from engine.clock import FrozenClock
from engine.ingest import ingest_export, load_export
from engine.janitor import Aggregator
from engine.janitor.tables import duplicate_event_ids
from engine.memory.mint_apply import mint_event
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.store import EventLog, Store
from tests.engine.janitor.helpers import message
from tests.engine.janitor.synthetic_export import make_export

T0 = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
TEMPLATE_KEYS = {
    "kind", "aggregate_type", "topic", "time_range", "channel_id", "author_kind",
    "fingerprints", "dup_count", "example_snippets", "recognition_signals",
    "actions_suggested", "source_event_ids_sample",
}  # fmt: skip


def _import(store: Store, tmp_path: Path, **kwargs: object) -> dict[str, object]:
    expected = make_export(tmp_path / "export.json", **kwargs)  # type: ignore[arg-type]
    ingest_export(store, load_export(tmp_path / "export.json"))
    return expected


def _rows(store: Store, sql: str, params: list[object] | None = None) -> list[tuple[object, ...]]:
    return store.reader().execute(sql, params or []).fetchall()


def test_synthetic_export_collapses_into_per_day_aggregates(
    tmp_path: Path, store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    expected = _import(store, tmp_path)  # 4 families x 800, 40 unique bot, 300 human
    report = Aggregator(store, service, policy, clock).process_pending()
    assert report.events_seen == expected["messages"] == 3540
    assert (report.bot_events, report.human_events) == (3240, 300)
    assert report.duplicates_collapsed == expected["duplicates_collapsed"] == 4 * 799
    assert report.families_touched == 4
    assert report.aggregates_created == expected["aggregates"]
    assert report.aggregates_updated == 0
    assert [f.dup_count for f in report.top_families] == [800] * 4
    assert {f.family_id for f in report.new_patterns} == {f.family_id for f in report.top_families}
    json.dumps(asdict(report), default=str)  # JSON-safe for the janitor's report

    families = dict(_rows(store, "SELECT author_name, dup_count FROM spam_families"))
    assert families == {f["bot"]: f["count"] for f in expected["families"]}  # type: ignore[index, union-attr]
    per_day = {
        (name, day.isoformat()): count  # type: ignore[attr-defined]
        for name, day, count in _rows(
            store,
            "SELECT f.author_name, a.day, a.dup_count FROM aggregates a "
            "JOIN spam_families f ON f.id = a.family_id",
        )
    }
    assert per_day == {
        (f["bot"], day): n
        for f in expected["families"]  # type: ignore[union-attr]
        for day, n in f["per_day"].items()
    }
    # humans and the price ticker (different prices) are in no family
    assert _rows(
        store,
        "SELECT count(*), count(family_id) FROM event_fingerprints",
    ) == [(3540, 4 * 800)]
    assert _rows(
        store,
        "SELECT count(*) FROM event_fingerprints f JOIN events e ON e.id = f.event_id "
        "WHERE f.family_id IS NOT NULL AND (NOT e.author_is_bot OR e.author_id = ?)",
        ["900000000000000099"],
    ) == [(0,)]

    memories = _rows(store, "SELECT id, kind, source_meta FROM memories")
    assert len(memories) == expected["aggregates"] and {m[1] for m in memories} == {"aggregate"}
    for _, _, meta in memories:
        record = json.loads(str(meta))
        assert set(record) >= TEMPLATE_KEYS and record["author_kind"] == "bot"
        assert 0 < len(record["source_event_ids_sample"]) <= policy.dedupe.aggregate_sample_ids
    # every aggregate embedded exactly once; nothing else has a vector
    vectors = _rows(store, "SELECT memory_id, count(*) FROM memory_vectors GROUP BY 1")
    assert sorted(v[0] for v in vectors) == sorted(m[0] for m in memories)
    assert {v[1] for v in vectors} == {1}


@pytest.mark.parametrize(
    ("channel", "raw_embedded"),
    [("367156652140658699", False), ("450688080542695436", True)],
)
def test_raw_bot_duplicates_never_get_a_vector(
    tmp_path: Path,
    store: Store,
    service: MemoryService,
    policy: Policy,
    clock: FrozenClock,
    channel: str,
    raw_embedded: bool,
) -> None:
    assert policy.channel(channel).embed_raw_bot_messages is raw_embedded
    expected = _import(store, tmp_path, per_family=40, humans=30, unique_bot=10, channel_id=channel)
    Aggregator(store, service, policy, clock).process_pending()
    events = EventLog(store).tail(limit=10_000)
    duplicates = duplicate_event_ids(store.reader(), [e.id for e in events])
    assert len(duplicates) == 4 * 39
    for event in events:  # the minting rules, told which events are duplicates
        mint_event(service, event, duplicate=event.id in duplicates)
    rows = _rows(
        store,
        "SELECT m.kind, m.author_is_bot, m.event_ids, v.memory_id IS NOT NULL FROM memories m "
        "LEFT JOIN memory_vectors v ON v.memory_id = m.id",
    )
    embedded_events = {e for kind, _, ids, has in rows if has and kind != "aggregate" for e in ids}  # type: ignore[attr-defined]
    assert not embedded_events & duplicates
    humans = [r for r in rows if r[0] == "message" and not r[1]]
    assert len(humans) == 30 and all(r[3] for r in humans)
    raw_bots = [r for r in rows if r[0] == "message" and r[1]]
    unique = [r for r in raw_bots if not set(r[2]) & duplicates]  # type: ignore[call-overload]
    # the first of each of the four families (status-bot's embed-only posts are minted
    # from their embed text) and the ten prices
    assert len(unique) == 4 + 10
    assert [r[3] for r in unique] == [raw_embedded] * len(unique)  # the channel decides
    assert len(raw_bots) - len(unique) == (4 * 39 if raw_embedded else 0)  # never embedded
    assert sum(1 for r in rows if r[0] == "aggregate" and r[3]) == expected["aggregates"]


def test_incremental_runs_update_aggregates_in_place(
    tmp_path: Path, store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    expected = _import(store, tmp_path, bot_families=2, per_family=300, humans=40)
    aggregator = Aggregator(store, service, policy, clock)
    first = aggregator.process_pending(limit=300)
    assert first.events_seen == 300
    before = dict(_rows(store, "SELECT memory_id, vector FROM memory_vectors"))
    read_before = service.repo.contents(list(before))  # now in the content cache
    ticks: list[tuple[int, int]] = []
    second = aggregator.process_pending(progress=lambda done, total: ticks.append((done, total)))
    assert first.events_seen + second.events_seen == expected["messages"]
    assert ticks[-1] == (second.events_seen, second.events_seen)
    assert second.aggregates_updated >= 1 and second.new_patterns == []
    assert (
        first.duplicates_collapsed + second.duplicates_collapsed == expected["duplicates_collapsed"]
    )
    after = dict(_rows(store, "SELECT memory_id, vector FROM memory_vectors"))
    assert set(before) <= set(after) and all(after[k] == v for k, v in before.items())
    assert len(after) == len(_rows(store, "SELECT id FROM memories")) == expected["aggregates"]
    for count, content in _rows(
        store,
        "SELECT a.dup_count, m.content FROM aggregates a JOIN memories m ON m.id = a.memory_id",
    ):
        assert f"repeated one message {count} times" in str(content)
    stored = dict(_rows(store, "SELECT id, content FROM memories"))
    assert service.repo.contents(list(read_before)) == {k: stored[k] for k in read_before}
    assert any(read_before[k] != stored[k] for k in read_before)  # rewritten, not served stale
    assert service.search("ci-notify repeated", mode="bm25", mutate=False).hits
    nothing = aggregator.process_pending()
    assert (nothing.events_seen, nothing.families_touched, nothing.top_families) == (0, 0, [])


def test_a_later_burst_rejoins_its_family_across_runs(
    store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    log = EventLog(store)
    aggregator = Aggregator(store, service, policy, clock)
    text = "Nightly backup finished OK at {:%H:%M}, job {} stored"
    log.append_many(
        [message(T0 + timedelta(minutes=i), text.format(T0, 100 + i)) for i in range(5)]
    )
    day1 = aggregator.process_pending()
    assert [f.dup_count for f in day1.new_patterns] == [5]
    family = day1.new_patterns[0].family_id
    next_day = T0 + timedelta(days=1)
    first_of_burst = log.append(message(next_day, text.format(next_day, 200)))
    alone = aggregator.process_pending()
    assert (alone.events_seen, alone.duplicates_collapsed, alone.families_touched) == (1, 0, 0)
    log.append_many(
        [
            message(next_day + timedelta(minutes=i), text.format(next_day, 200 + i))
            for i in range(1, 4)
        ]
    )
    day2 = aggregator.process_pending()
    assert day2.new_patterns == [] and day2.duplicates_collapsed == 3
    assert [(f.family_id, f.dup_count) for f in day2.top_families] == [(family, 9)]
    assert day2.aggregates_created == 1
    assert _rows(
        store, "SELECT family_id FROM event_fingerprints WHERE event_id = ?", [first_of_burst]
    ) == [(family,)]
    assert _rows(store, "SELECT day, dup_count FROM aggregates ORDER BY day") == [
        (T0.date(), 5),
        (next_day.date(), 4),
    ]


def test_human_messages_are_only_fingerprinted(
    store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    EventLog(store).append_many(
        [message(T0 + timedelta(seconds=i), "lol same", bot=False, author="h1") for i in range(20)]
    )
    report = Aggregator(store, service, policy, clock).process_pending()
    assert (report.human_events, report.duplicates_collapsed, report.families_touched) == (20, 0, 0)
    assert _rows(store, "SELECT count(*), count(family_id) FROM event_fingerprints") == [(20, 0)]
    assert _rows(store, "SELECT count(*) FROM memories") == [(0,)]


def test_near_duplicate_family_and_its_suggestion(
    store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    welcome = (
        "Welcome {} to the server! Make sure you read the rules channel, grab your roles in "
        "the roles channel, introduce yourself and have fun with everyone here, we are glad "
        "to have you with us today"
    )
    names = ["alice", "dave", "erin"] * 10  # within the simhash threshold of each other
    EventLog(store).append_many(
        [message(T0 + timedelta(seconds=20 * i), welcome.format(n)) for i, n in enumerate(names)]
    )
    aggregator = Aggregator(store, service, policy, clock)
    report = aggregator.process_pending()
    assert report.duplicates_collapsed == 29 and report.families_touched == 1
    assert _rows(store, "SELECT near_count > 0 FROM spam_families") == [(True,)]
    (rule,) = aggregator.suppress_suggestions(report)
    assert rule["status"] == "proposed" and rule["rule"]["action"] == "aggregate_only"
    assert rule["rule"]["match"]["type"] == "simhash_family" and rule["channel_id"] == "c1"
    (content,) = _rows(store, "SELECT content FROM memories")[0]
    assert "near-identical text" in str(content)


def test_suggestions_follow_the_policy(
    tmp_path: Path, store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    _import(store, tmp_path, bot_families=2, per_family=30, humans=5)
    EventLog(store).append_many(
        [message(T0 + timedelta(seconds=i), "tiny family") for i in range(3)]
    )
    report = Aggregator(store, service, policy, clock).process_pending()
    rules = Aggregator(store, service, policy, clock).suppress_suggestions(report)
    assert [r["dup_count"] for r in rules] == [30, 30]  # the 3-message family is below the minimum
    assert {r["rule"]["match"]["type"] for r in rules} == {"exact_hash"}
    quiet = policy.model_copy(
        update={"janitor": policy.janitor.model_copy(update={"propose_suppress_rules": False})}
    )
    assert Aggregator(store, service, quiet, clock).suppress_suggestions(report) == []


def test_channel_policy_and_switches(
    tmp_path: Path, store: Store, service: MemoryService, policy: Policy, clock: FrozenClock
) -> None:
    _import(store, tmp_path, bot_families=1, per_family=30, humans=5, channel_id="999")
    no_embed = policy.model_copy(
        update={
            "channel_defaults": policy.channel_defaults.model_copy(
                update={"embed_aggregates": False}
            )
        }
    )
    report = Aggregator(store, service, no_embed, clock).process_pending()
    assert report.aggregates_created >= 1
    assert _rows(store, "SELECT count(*) FROM memory_vectors") == [(0,)]
    assert _rows(store, "SELECT count(*) FROM memories WHERE kind = 'aggregate'") == [
        (report.aggregates_created,)
    ]


def test_aggregating_off_and_without_a_memory_service(
    tmp_path: Path, store: Store, policy: Policy, clock: FrozenClock
) -> None:
    off = policy.model_copy(
        update={"dedupe": policy.dedupe.model_copy(update={"aggregate_bot_dupes": False})}
    )
    EventLog(store).append_many([message(T0 + timedelta(seconds=i), "spam spam") for i in range(5)])
    report = Aggregator(store, None, off, clock).process_pending()
    assert (report.events_seen, report.families_touched) == (5, 0)
    expected = _import(store, tmp_path, bot_families=1, per_family=20, humans=3)
    report = Aggregator(store, None, policy, clock).process_pending()
    assert report.aggregates_created == expected["aggregates"]
    assert _rows(store, "SELECT count(*), count(embed_model) FROM memories") == [
        (report.aggregates_created, 0)
    ]
