"""Ops a daemon serves beyond :class:`ConsoleBackend`: the read commands' needs.

While a daemon runs, its DuckDB lock keeps every other process out of the file,
so ``events tail``, ``doctor`` and ``memory search --mode`` are answered here,
from the daemon's own open store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, cast

from engine.backend_local import LocalBackend
from engine.control.protocol import ErrorCode, ProtocolError
from engine.control.server import Handler
from engine.doctor import COUNTED_TABLES, doctor_report
from engine.engine import Engine
from engine.memory.search import Mode
from engine.store import EventLog
from engine.store.migrations import LATEST_VERSION
from engine.store.sql import scalar

SEARCH_MODES = ("full", "bm25", "dense", "rrf")


def engine_ops(
    engine: Engine, backend: LocalBackend, daemon_facts: Callable[[], dict[str, Any]]
) -> dict[str, Handler]:
    """``events_tail``, ``doctor`` and a ``memory_search`` that knows the baseline modes.

    Args:
        engine: the daemon's engine.
        backend: the backend the socket serves.
        daemon_facts: the daemon's own facts for ``doctor`` (pid, socket, clients).

    Returns:
        Op name -> handler.
    """

    def events_tail(args: dict[str, Any]) -> list[dict[str, Any]]:
        events = EventLog(engine.store).tail(limit=args["limit"], after_id=args["after_id"])
        return [event.model_dump(mode="json") for event in events]

    def doctor(_args: dict[str, Any]) -> dict[str, Any]:
        report = doctor_report(engine.settings)  # its own file probe fails on our lock...
        database = _database(engine)  # ...so the database part comes from our store
        report["database"] = {k: v for k, v in database.items() if k != "counts"}
        report["counts"] = database["counts"]
        report["schema_version"] = database["schema_version"]
        report["daemon"] = {**report.get("daemon", {}), **daemon_facts()}
        report["daemon"]["status"] = backend.status()
        return report

    def memory_search(args: dict[str, Any]) -> list[dict[str, Any]]:
        mode = args["mode"]
        if mode not in SEARCH_MODES:
            raise ProtocolError(
                ErrorCode.BAD_ARGS, f"memory_search: mode must be one of {', '.join(SEARCH_MODES)}"
            )
        return backend.memory_search(args["query"], args["k"], mode=cast(Mode, mode))

    return {"events_tail": events_tail, "doctor": doctor, "memory_search": memory_search}


def _database(engine: Engine) -> dict[str, Any]:
    store = engine.store
    cur = store.reader()
    version = store.schema_version
    return {
        "path": str(engine.settings.data_dir.db_path),
        "status": "ok" if version == LATEST_VERSION else "needs-migration",
        "schema_version": version,
        "latest_schema_version": LATEST_VERSION,
        "detail": f"open read-write by the daemon (pid {os.getpid()})",
        "counts": {
            table: int(scalar(cur, f"SELECT count(*) FROM {table}")) for table in COUNTED_TABLES
        },
    }
