"""Where a data dir keeps its files."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from engine.errors import DataDirError


@dataclass(frozen=True)
class DataDir:
    """The layout of one Cephalon data dir (``CEPHALON_HOME``)."""

    root: Path

    @property
    def db_path(self) -> Path:
        """The DuckDB database, the source of truth."""
        return self.root / "cephalon.duckdb"

    @property
    def index_dir(self) -> Path:
        """USearch index files and their checksums (derived; rebuildable)."""
        return self.root / "index"

    @property
    def models_dir(self) -> Path:
        """Assembled model files (the embedded GGUF)."""
        return self.root / "models"

    @property
    def logs_dir(self) -> Path:
        """Log files; the TUI and the daemon never log to a terminal."""
        return self.root / "logs"

    @property
    def policy_path(self) -> Path:
        """The user's policy overrides, if present."""
        return self.root / "policy.toml"

    @property
    def pid_path(self) -> Path:
        """The daemon's pidfile."""
        return self.root / "daemon.pid"

    @property
    def socket_path(self) -> Path:
        """The daemon's control socket."""
        return self.root / "control.sock"

    @property
    def daemon_may_run(self) -> bool:
        """A pidfile or socket is there: a daemon may own the dir (ask it to be sure)."""
        return self.pid_path.exists() or self.socket_path.exists()

    def ensure_writable(self) -> None:
        """Create the data dir and its subfolders and prove it is writable.

        Raises:
            DataDirError: the dir cannot be created or written.
        """
        try:
            for folder in (self.root, self.index_dir, self.models_dir, self.logs_dir):
                folder.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=self.root)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise DataDirError(f"data dir {self.root} is not writable: {reason}") from exc

    def ensure_readable(self) -> None:
        """Check the data dir can be read (used by read-only commands).

        Raises:
            DataDirError: the dir exists but cannot be listed.
        """
        if self.root.exists() and not os.access(self.root, os.R_OK | os.X_OK):
            raise DataDirError(f"data dir {self.root} is not readable")
