"""Fitting a DataTable's columns into its panel: fixed widths, the last takes the rest."""

from __future__ import annotations

from collections.abc import Iterable

SCROLLBAR = 1
"""A column kept free for the vertical scrollbar."""


def last_column_width(panel_width: int, fixed: Iterable[int], padding: int) -> int:
    """The room left for the last column once the fixed-width ones are laid out.

    Args:
        panel_width: the table's content width.
        fixed: widths of the other columns.
        padding: the table's ``cell_padding`` (on each side of every cell).

    Returns:
        The width (at least 16).
    """
    used = SCROLLBAR + sum(width + 2 * padding for width in fixed) + 2 * padding
    return max(16, panel_width - used)


def cut(text: str, width: int) -> str:
    """Squash whitespace and cut to ``width`` characters (with an ellipsis)."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[: max(1, width - 1)] + "…"
