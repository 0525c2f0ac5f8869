"""The DuckDB store: migrations, the single writer, the event log, bad files."""

from __future__ import annotations

import threading
import time
from concurrent.futures import Future
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

from engine.clock import FrozenClock
from engine.errors import CorruptDatabaseError, DatabaseLockedError, SchemaTooNewError, StoreError
from engine.models import EventType, NewEvent
from engine.store import EventLog, Store
from engine.store.migrations import LATEST_VERSION, MIGRATIONS

REQUIRED_COLUMNS = {
    "events": {
        "id",
        "ts",
        "type",
        "source",
        "channel_id",
        "author_id",
        "author_is_bot",
        "payload",
        "content_hash",
    },
    "memories": {
        "id",
        "kind",
        "content",
        "normalized_content",
        "source_meta",
        "event_ids",
        "created_at",
        "last_included_at",
        "included_count_decay",
        "depth_weight_alpha",
        "depth_weight_beta",
        "pinned",
        "locked_by_admin",
        "locked_by_system",
        "deleted",
        "immutable",
        "source_tag",
        "source_confidence",
        "compressed",
        "embed_model",
        "fingerprints",
    },
    "turns": {"id", "started_at", "status", "input_event_id", "record"},
    "tool_calls": {"id", "turn_id", "tool", "args", "result", "idempotency_key", "status"},
    "llm_calls": {"id", "turn_id", "provider", "model", "tokens_in", "tokens_out", "cost_usd"},
    "context_inclusions": {"turn_id", "memory_id", "score", "explain"},
    "job_runs": {"id", "job", "status", "error"},
    "safety_audit": {"id", "kind", "decision", "reason"},
    "event_fingerprints": {"event_id", "exact_hash", "simhash64", "numbers", "family_id"},
    "spam_families": {"id", "channel_id", "topic", "exact_hash", "simhash64", "dup_count"},
    "aggregates": {"family_id", "day", "memory_id", "dup_count", "sample_event_ids"},
    "memory_accesses": {"memory_id", "accessed_at"},
    "co_access_log": {"a", "b", "seen_at"},
    "co_access_counts": {"a", "b", "count", "last_at"},
}


def _event(clock: FrozenClock, text: str = "hello") -> NewEvent:
    return NewEvent(
        type=EventType.LOCAL_MESSAGE_CREATED,
        source="operator",
        ts=clock.now(),
        author_id="op",
        payload={"content": text},
    )


def _columns(store: Store, table: str) -> set[str]:
    rows = (
        store.reader()
        .execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?", [table])
        .fetchall()
    )
    return {r[0] for r in rows}


def test_migrate_from_empty_creates_every_table(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        assert store.schema_version == LATEST_VERSION
        for table, columns in REQUIRED_COLUMNS.items():
            assert columns <= _columns(store, table), table
        recorded = (
            store.reader()
            .execute("SELECT version, name FROM schema_migrations ORDER BY version")
            .fetchall()
        )
        assert recorded == [(m.version, m.name) for m in MIGRATIONS]


@pytest.mark.parametrize("applied", range(len(MIGRATIONS)))
def test_migrate_from_each_previous_version(
    tmp_path: Path, clock: FrozenClock, applied: int
) -> None:
    path = tmp_path / "db.duckdb"
    with Store(path, clock=clock, migrations=MIGRATIONS[:applied]) as old:
        assert old.schema_version == (MIGRATIONS[applied - 1].version if applied else 0)
        if applied >= 1:
            EventLog(old).append(_event(clock, "kept across migrations"))
    with Store(path, clock=clock) as new:
        assert new.schema_version == LATEST_VERSION
        if applied >= 1:
            assert [e.payload["content"] for e in EventLog(new).tail()] == [
                "kept across migrations"
            ]
    with Store(path, clock=clock) as again:  # idempotent: nothing left to apply
        assert again.schema_version == LATEST_VERSION


def test_m008_moves_access_times_out_of_the_memories_row(
    tmp_path: Path, clock: FrozenClock
) -> None:
    path = tmp_path / "db.duckdb"
    before = [m for m in MIGRATIONS if m.version < 8]
    with Store(path, clock=clock, migrations=before) as old:
        old.write(
            lambda cur: cur.execute(
                "INSERT INTO memories (id, kind, content, created_at, updated_at, "
                "access_timestamps) VALUES (1, 'fact', 'a', now(), now(), [30.0, 10.0, 20.0]), "
                "(2, 'fact', 'b', now(), now(), []), (3, 'fact', 'c', now(), now(), [5.0])"
            )
        )
    with Store(path, clock=clock) as new:
        assert "access_timestamps" not in _columns(new, "memories")
        moved = (
            new.reader()
            .execute("SELECT memory_id, accessed_at FROM memory_accesses ORDER BY rowid")
            .fetchall()
        )
        assert moved == [(1, 30.0), (1, 10.0), (1, 20.0), (3, 5.0)]  # each list's order kept
        indexes = new.reader().execute(
            "SELECT index_name FROM duckdb_indexes() WHERE table_name = 'memory_accesses'"
        )
        assert indexes.fetchall() == [("memory_accesses_memory",)]
        assert new.reader().execute("SELECT count(*) FROM memories").fetchone() == (3,)


def test_schema_newer_than_known_is_refused(tmp_path: Path, clock: FrozenClock) -> None:
    path = tmp_path / "db.duckdb"
    Store(path, clock=clock).close()
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (999, 'm999_future', now())")
    con.close()
    with pytest.raises(SchemaTooNewError, match="v999"):
        Store(path, clock=clock)
    with pytest.raises(SchemaTooNewError):
        Store(path, clock=clock, read_only=True)


def test_corrupt_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "db.duckdb"
    path.write_bytes(b"this is not a database" * 1000)
    with pytest.raises(CorruptDatabaseError, match="not a readable DuckDB database"):
        Store(path)


def test_read_only_missing_file(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no database"):
        Store(tmp_path / "none.duckdb", read_only=True)


def test_second_process_is_refused_while_writer_open(tmp_path: Path, clock: FrozenClock) -> None:
    import subprocess
    import sys

    path = tmp_path / "db.duckdb"
    with Store(path, clock=clock):
        code = (
            "import sys\nfrom pathlib import Path\nfrom engine.store import Store\n"
            "from engine.errors import DatabaseLockedError\n"
            f"try:\n    Store(Path({str(path)!r}), read_only=True)\n"
            "except DatabaseLockedError as e:\n    print('locked'); sys.exit(0)\n"
            "sys.exit(1)\n"
        )
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert proc.stdout.strip() == "locked", proc.stderr
    assert DatabaseLockedError.exit_code == 3


def test_append_and_tail(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        log = EventLog(store)
        first = log.append(_event(clock, "one"))
        clock.advance(1)
        ids = log.append_many([_event(clock, f"m{i}") for i in range(5)])
        assert ids == list(range(first + 1, first + 6))
        assert log.count() == 6
        tail = log.tail(limit=3)
        assert [e.payload["content"] for e in tail] == ["m2", "m3", "m4"]
        assert tail[0].ts == clock.now()
        assert tail[0].content_hash is not None and len(tail[0].content_hash) == 64
        assert [e.id for e in log.tail(after_id=ids[2])] == ids[3:]


def test_failed_job_rolls_back_everything(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        log = EventLog(store)
        log.append(_event(clock))

        def half_then_fail(cur: duckdb.DuckDBPyConnection) -> None:
            cur.execute(
                "INSERT INTO events (id, ts, type, source, payload) VALUES "
                "(100, now(), 'system.tick', 'x', '{}')"
            )
            raise RuntimeError("boom")

        with pytest.raises(RuntimeError, match="boom"):
            store.write(half_then_fail)
        assert log.count() == 1
        assert log.append(_event(clock)) == 2  # ids stay contiguous after a rollback


def _held_insert(store: Store, ready: Future[None], outcome: list[bool]) -> Future[None]:
    """A job that writes one event, then holds its transaction open for ``ready``."""
    assert store.writer is not None
    writer = store.writer

    def job(cur: duckdb.DuckDBPyConnection) -> None:
        cur.execute(
            "INSERT INTO events (id, ts, type, source, payload) VALUES "
            "(100, now(), 'system.tick', 'held', '{}')"
        )
        outcome.append(writer.hold(ready))
        if not outcome[-1]:
            raise RuntimeError("preempted")

    return writer.submit(job)


def _sources(store: Store) -> list[str]:
    rows = store.reader().execute("SELECT source FROM events ORDER BY id").fetchall()
    return [r[0] for r in rows]


def test_a_held_transaction_commits_once_it_is_ready(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        ready: Future[None] = Future()
        outcome: list[bool] = []
        held = _held_insert(store, ready, outcome)
        time.sleep(0.2)
        assert not held.done() and _sources(store) == []  # open, not visible
        ready.set_result(None)
        held.result(5)
        assert outcome == [True] and _sources(store) == ["held"]


def test_a_queued_job_preempts_a_held_transaction(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        ready: Future[None] = Future()  # never resolved: only the other job ends the hold
        outcome: list[bool] = []
        held = _held_insert(store, ready, outcome)
        time.sleep(0.2)
        assert store.writer is not None
        other = store.writer.submit(  # runs once the held job gives up
            lambda cur: cur.execute(
                "INSERT INTO events (id, ts, type, source, payload) VALUES "
                "(200, now(), 'system.tick', 'other', '{}')"
            )
        )
        other.result(timeout=2)  # not blocked behind the open transaction
        with pytest.raises(RuntimeError, match="preempted"):
            held.result(5)
        assert outcome == [False]
        assert _sources(store) == ["other"]  # the held insert was rolled back


def test_concurrent_appends_from_threads(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        log = EventLog(store)
        errors: list[BaseException] = []

        def worker(n: int) -> None:
            try:
                for i in range(50):
                    log.append(_event(clock, f"{n}-{i}"))
                    log.tail(limit=1)  # readers use their own cursors
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        ids = [r[0] for r in store.reader().execute("SELECT id FROM events ORDER BY id").fetchall()]
        assert ids == list(range(1, 201))


def test_timestamps_roundtrip_as_utc(tmp_path: Path, clock: FrozenClock) -> None:
    with Store(tmp_path / "db.duckdb", clock=clock) as store:
        log = EventLog(store)
        clock.advance(timedelta(hours=5).total_seconds())
        log.append(_event(clock))
        (event,) = log.tail()
        assert event.ts == clock.now() and event.ts.tzinfo is not None


def test_the_engine_runs_duckdb_on_its_setting_and_bulk_work_on_every_core(
    isolated_home: Path,
) -> None:
    import os

    from engine.config import load_policy, load_settings
    from engine.engine import Engine
    from engine.llm.scripted import ScriptedProvider

    def threads(store: Store) -> int:
        return int(store.reader().execute("SELECT current_setting('threads')").fetchall()[0][0])

    settings = load_settings().model_copy(update={"embedder": "hashing", "db_threads": 1})
    with Engine(settings, load_policy().policy, provider=ScriptedProvider()) as engine:
        assert threads(engine.store) == 1
    with Store(settings.data_dir.db_path) as bulk:
        assert threads(bulk) == (os.cpu_count() or 1)
