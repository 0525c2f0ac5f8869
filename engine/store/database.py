"""The DuckDB store: opening, migrating, one writer, per-thread readers."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import duckdb

from engine.clock import Clock, SystemClock, to_naive_utc
from engine.errors import (
    CorruptDatabaseError,
    DatabaseLockedError,
    SchemaTooNewError,
    StoreError,
)
from engine.store.migrations import LATEST_VERSION, MIGRATIONS, Migration
from engine.store.sql import scalar
from engine.store.writer import Writer

T = TypeVar("T")

_DUCKDB_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    # Nothing may reach for the network: extensions we use are bundled in the wheel.
    "autoinstall_known_extensions": "false",
}


def connect(
    path: Path, *, read_only: bool, threads: int | None = None
) -> duckdb.DuckDBPyConnection:
    """Open a DuckDB file, turning DuckDB's errors into one-line user errors.

    Args:
        path: the database file.
        read_only: open without write access (several readers may share the file).
        threads: DuckDB's worker threads (None: one per core).

    Returns:
        The connection.

    Raises:
        DatabaseLockedError: another process holds the file.
        CorruptDatabaseError: the file is not a readable DuckDB database.
        StoreError: any other failure to open.
    """
    try:
        config = dict(_DUCKDB_CONFIG)
        if threads is not None:
            config["threads"] = threads
        return duckdb.connect(str(path), read_only=read_only, config=config)
    except duckdb.Error as exc:
        text = str(exc)
        if "lock" in text.lower():
            raise DatabaseLockedError(
                f"database {path} is in use by another process "
                "(is a cephalon daemon running? use `cephalon attach`)"
            ) from exc
        if isinstance(exc, duckdb.IOException | duckdb.SerializationException) or (
            "database file" in text.lower() or "invalid" in text.lower()
        ):
            first = text.splitlines()[0] if text else type(exc).__name__
            raise CorruptDatabaseError(
                f"database {path} is not a readable DuckDB database ({first})"
            ) from exc
        raise StoreError(f"cannot open database {path}: {text}") from exc


def applied_versions(cur: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """The migrations recorded in the database (version -> name); empty for a new file."""
    exists = scalar(
        cur, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
    )
    if not exists:
        return {}
    rows = cur.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()
    return {int(version): str(name) for version, name in rows}


def check_schema(path: Path, applied: dict[int, str]) -> None:
    """Refuse databases written by a newer Cephalon or with unknown migrations.

    Raises:
        SchemaTooNewError: a recorded migration is unknown to this version.
    """
    known = {m.version: m.name for m in MIGRATIONS}
    for version, name in applied.items():
        if known.get(version) != name:
            raise SchemaTooNewError(
                f"database {path} has schema v{max(applied)} ({name}); this cephalon knows "
                f"up to v{LATEST_VERSION}: upgrade cephalon or use another --home"
            )


def migrate(
    writer: Writer, clock: Clock, migrations: tuple[Migration, ...] = MIGRATIONS
) -> list[str]:
    """Apply pending migrations, each in its own transaction with its record row.

    Args:
        writer: the store's writer.
        clock: stamps ``applied_at``.
        migrations: the steps to apply up to (tests pass a prefix).

    Returns:
        Names of the migrations applied now.
    """

    def ensure_table(cur: duckdb.DuckDBPyConnection) -> dict[int, str]:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            "version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, applied_at TIMESTAMP NOT NULL)"
        )
        return applied_versions(cur)

    applied = writer.run(ensure_table)
    done: list[str] = []
    for migration in migrations:
        if migration.version in applied:
            continue

        def step(cur: duckdb.DuckDBPyConnection, m: Migration = migration) -> None:
            m.apply(cur)
            cur.execute(
                "INSERT INTO schema_migrations VALUES (?, ?, ?)",
                [m.version, m.name, to_naive_utc(clock.now())],
            )

        writer.run(step)
        done.append(migration.name)
    return done


class Store:
    """One open database: a writer thread (unless read-only) and per-thread reader cursors."""

    def __init__(
        self,
        path: Path,
        *,
        read_only: bool = False,
        clock: Clock | None = None,
        migrations: tuple[Migration, ...] = MIGRATIONS,
        threads: int | None = None,
    ) -> None:
        """Open (and, read-write, migrate) a database.

        Args:
            path: the DuckDB file; created when missing unless read-only.
            read_only: share the file with other readers; no writes possible.
            clock: time source for stamps.
            migrations: the schema steps to apply (tests pass a prefix).
            threads: DuckDB's worker threads (None: one per core, for bulk work; the
                engine passes ``settings.db_threads``).

        Raises:
            StoreError: the file is missing (read-only), locked, corrupt or too new.
        """
        self.path = path
        self.read_only = read_only
        self.clock: Clock = clock or SystemClock()
        if read_only and not path.exists():
            raise StoreError(f"no database at {path} yet")
        self._con = connect(path, read_only=read_only, threads=threads)
        self._local = threading.local()
        self._readers: list[duckdb.DuckDBPyConnection] = []
        self._readers_lock = threading.Lock()
        self.writer: Writer | None = None
        try:
            check_schema(path, applied_versions(self._con))
            if not read_only:
                self.writer = Writer(self._con)
                migrate(self.writer, self.clock, migrations)
        except BaseException:
            self.close()
            raise

    @property
    def schema_version(self) -> int:
        """The highest migration applied (0 for an empty database)."""
        applied = applied_versions(self.reader())
        return max(applied) if applied else 0

    def reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's read cursor (created on first use).

        Returns:
            A cursor that sees everything committed so far.
        """
        cur: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
            with self._readers_lock:
                self._readers.append(cur)
        return cur

    def write(self, job: Callable[[duckdb.DuckDBPyConnection], T]) -> T:
        """Run ``job`` in one transaction on the writer thread and wait for the commit.

        Args:
            job: a function of the write cursor.

        Returns:
            The job's result.

        Raises:
            StoreError: the store is read-only.
        """
        if self.writer is None:
            raise StoreError(f"database {self.path} is open read-only")
        return self.writer.run(job)

    def close(self) -> None:
        """Drain the writer and close every cursor and the connection."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        with self._readers_lock:
            for cur in self._readers:
                with contextlib.suppress(duckdb.Error):
                    cur.close()
            self._readers.clear()
        self._con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
