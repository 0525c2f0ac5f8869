"""User-facing errors.

Every error a user can cause (bad input, bad config, a locked or damaged data
dir) is a :class:`CephalonError`. The CLI prints its message as one line and
exits with its ``exit_code``; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class CephalonError(Exception):
    """An error caused by input or environment, reported to the user in one line."""

    exit_code: int = 2


class DataDirError(CephalonError):
    """The data dir cannot be created, read or written."""


class PolicyError(CephalonError):
    """A policy file cannot be read, parsed or validated."""


class StoreError(CephalonError):
    """The database cannot be opened or used."""


class CorruptDatabaseError(StoreError):
    """The database file is not a readable DuckDB database."""


class SchemaTooNewError(StoreError):
    """The database was migrated by a newer Cephalon than this one."""


class DatabaseLockedError(StoreError):
    """Another process (usually a running daemon) holds the database lock."""

    exit_code = 3


class DaemonAlreadyRunningError(CephalonError):
    """A daemon already owns this data dir."""

    exit_code = 3
