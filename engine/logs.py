"""Logging to a file in the data dir. Nothing the engine logs goes to a terminal."""

from __future__ import annotations

import logging
from pathlib import Path

import structlog


def configure_file_logging(path: Path, level: str = "INFO") -> None:
    """Send stdlib and structlog logs, as JSON lines, to ``path``.

    Args:
        path: the log file (its folder must exist).
        level: the lowest level written.
    """
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.JSONRenderer(),
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=False,
    )
