"""Find the line of a key in TOML text, so policy errors can say ``file:line``."""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_.\-]+)\s*=""")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.]+', text)
    return [part.strip().strip("\"'") for part in parts]


def locate_key(text: str, loc: Sequence[str | int]) -> int | None:
    """Return the 1-based line where the key at ``loc`` is set, or None.

    Handles ``[table]`` and ``[[array.of.tables]]`` headers, dotted and quoted keys.
    List indexes in ``loc`` select the n-th ``[[...]]`` block; a trailing index into an
    inline array resolves to the line of the array's key.

    Args:
        text: the TOML document.
        loc: the key path, e.g. ``("context", "budgets", "recent_pct")``.

    Returns:
        The line number, or None when the key is not written in this text.
    """
    wanted = [str(part) for part in loc]
    while wanted:
        line = _find(text, wanted)
        if line is not None:
            return line
        wanted = wanted[:-1]
    return None


def _find(text: str, wanted: list[str]) -> int | None:
    table: list[str] = []
    counters: dict[tuple[str, ...], int] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            names = _split_dotted(header.group(2))
            if header.group(1) == "[[":
                index = counters.get(tuple(names), -1) + 1
                counters[tuple(names)] = index
                names = [*names, str(index)]
            table = names
            if table == wanted:
                return number
            continue
        key = _KEY.match(raw)
        if key and table + _split_dotted(key.group(1)) == wanted:
            return number
    return None
