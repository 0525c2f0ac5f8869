"""The attention panel: every pending candidate, its salience parts, the winner marked."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.console_rows import AttentionRow


def bar(value: float, width: int = 6) -> str:
    """A horizontal bar for a value in [0, 1] (eighth-block resolution)."""
    value = max(0.0, min(1.0, value))
    eighths = round(value * width * 8)
    full, rest = divmod(eighths, 8)
    partial = " ▏▎▍▌▋▊▉"[rest] if rest else ""
    return ("█" * full + partial).ljust(width)


def _trend(row: AttentionRow) -> Text:
    if row.candidate.winner:
        return Text("won", style="bold")
    if row.change is None:
        return Text("new", style="italic")
    if row.change < -1e-9:
        return Text(f"▼{row.change:+.2f}")
    if row.change > 1e-9:
        return Text(f"▲{row.change:+.2f}")
    return Text("=")


def attention_table(model: ConsoleModel) -> Table:
    """The candidates as a table: mark, source, text, salience bar, the four parts, trend.

    Args:
        model: the console model.

    Returns:
        A Rich table (the winner first, then by salience).
    """
    table = Table(box=None, expand=True, padding=(0, 1, 0, 0), show_edge=False)
    table.add_column("", width=1, no_wrap=True)
    table.add_column("from", no_wrap=True, max_width=8)
    table.add_column("input", ratio=1, no_wrap=True, overflow="ellipsis")
    table.add_column("salience", no_wrap=True)
    for part in ("nov", "rel", "chg", "urg"):
        table.add_column(part, justify="right", no_wrap=True)
    table.add_column("", no_wrap=True)
    for row in model.attention:
        c = row.candidate
        style = "bold" if c.winner else "dim" if row.change is not None and row.change < 0 else ""
        table.add_row(
            "★" if c.winner else "·",
            c.source,
            c.text.replace("\n", " "),
            f"{bar(c.salience)} {c.salience:.2f}",
            f"{c.parts.novelty:.2f}",
            f"{c.parts.relevance:.2f}",
            f"{c.parts.charge:.2f}",
            f"{c.parts.urgency:.2f}",
            _trend(row),
            style=style,
        )
    return table


class AttentionPanel(Static):
    """Candidates weighed by attention this turn (losers decay, the winner is starred)."""

    BORDER_TITLE = "Attention"

    def show(self, model: ConsoleModel) -> None:
        """Render the latest candidates (or a hint before the first turn)."""
        if not model.attention:
            self.update(
                Text("no candidates yet: attention shows here when a turn starts", style="italic")
            )
            return
        table = attention_table(model)
        reason = Text(model.attention_reason, style="italic", overflow="ellipsis", no_wrap=True)
        # the panel has a fixed height: no layout pass for the whole screen
        self.update(Group(table, reason) if model.attention_reason else table, layout=False)
