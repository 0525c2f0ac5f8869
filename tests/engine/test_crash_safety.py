"""SIGKILL a writer in the middle of a stream of appends; nothing committed is lost."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from engine.store import Store

BATCH = 50

WRITER = textwrap.dedent(
    """
    import json, sys
    from datetime import UTC, datetime
    from pathlib import Path
    from engine.models import EventType, NewEvent
    from engine.store import EventLog, Store

    store = Store(Path(sys.argv[1]))
    log = EventLog(store)
    batch = int(sys.argv[2])
    start = log.count()
    n = 0
    while True:
        events = [
            NewEvent(type=EventType.SYSTEM_TICK, source="crash-test",
                     ts=datetime.now(UTC), payload={"seq": start + n + i})
            for i in range(batch)
        ]
        ids = log.append_many(events)
        n += batch
        sys.stdout.write(json.dumps({"committed": start + n, "last_id": ids[-1]}) + "\\n")
        sys.stdout.flush()
    """
)


def _run_until_killed(db: Path, commits_before_kill: int, rng: random.Random) -> int:
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db), str(BATCH)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.stdout is not None
    reported = 0
    for seen, line in enumerate(proc.stdout, start=1):
        reported = json.loads(line)["committed"]
        if seen >= commits_before_kill:
            break
    # Kill a moment later, at a random point inside the next batch's work.
    for _ in range(rng.randint(0, 3)):
        line = proc.stdout.readline()
        if line:
            reported = json.loads(line)["committed"]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    for line in proc.stdout.read().splitlines():  # reports flushed before the kill
        reported = json.loads(line)["committed"]
    return reported


def test_sigkill_mid_stream_keeps_every_committed_event(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    rng = random.Random(1234)
    for round_number, commits in enumerate((5, 20, 40), start=1):
        reported = _run_until_killed(db, commits, rng)
        with Store(db) as store:
            rows = (
                store.reader()
                .execute("SELECT id, CAST(payload->>'seq' AS BIGINT) FROM events ORDER BY id")
                .fetchall()
            )
        count = len(rows)
        # Every reported commit is there; at most the one batch whose report was lost to
        # the kill is there too; never part of a batch.
        assert count in (reported, reported + BATCH), (round_number, count, reported)
        assert count % BATCH == 0
        assert [r[0] for r in rows] == list(range(1, count + 1))
        assert [r[1] for r in rows] == list(range(count))
