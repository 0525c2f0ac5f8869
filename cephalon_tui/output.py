"""Printing helpers shared by commands: JSON to stdout, errors as one line to stderr."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console

console = Console(highlight=False)


def print_json(value: Any) -> None:
    """Print a value as JSON (one document) to stdout."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str, indent=2) + "\n")


def print_json_line(value: Any) -> None:
    """Print a value as one JSON line (for streams such as ``events tail --json``)."""
    sys.stdout.write(json.dumps(value, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def print_error(message: str) -> None:
    """Print a user error as one line on stderr."""
    sys.stderr.write(f"cephalon: error: {' '.join(message.split())}\n")
    sys.stderr.flush()
