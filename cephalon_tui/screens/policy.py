"""The effective policy, read-only: every key, its value, and the file that set it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import DataTable, Footer, Input

from cephalon_tui.screens.base import ConsoleScreen

REPO = Path(__file__).resolve().parents[2]
VALUE_WIDTH = 40


def short_source(source: str) -> str:
    """A policy file path, relative to the repo or the home dir when under them."""
    path = Path(source)
    for base, prefix in ((REPO, ""), (Path.home(), "~/")):
        try:
            return prefix + str(path.relative_to(base))
        except ValueError:
            continue
    return source


class PolicyScreen(ConsoleScreen):
    """Filterable table of the policy (type to filter by key)."""

    screen_name = "policy"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("slash", "focus_filter", "Filter"),
    ]
    DEFAULT_CSS = """
    PolicyScreen #policy { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        self.filter = Input(placeholder="filter keys (e.g. attention, memory.search)")
        self.table: DataTable[str] = DataTable(id="policy", cursor_type="row")
        self.table.border_title = "Policy (read-only)"
        with Vertical():
            yield self.filter
            yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self._rows: list[dict[str, Any]] = []
        self.filter.focus()
        self.call(lambda b: b.policy_view(), self._loaded)

    def action_focus_filter(self) -> None:
        self.filter.focus()

    def _loaded(self, rows: list[dict[str, Any]]) -> None:
        self._rows = rows
        self._show(self.filter.value)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.value)

    def _show(self, needle: str) -> None:
        needle = needle.strip().lower()
        self.table.clear(columns=True)  # column widths follow what is shown
        self.table.add_columns("key", "value", "source")
        shown = [r for r in self._rows if needle in str(r["key"]).lower()]
        for row in shown:
            value = json.dumps(row["value"], default=str)
            if len(value) > VALUE_WIDTH:
                value = value[: VALUE_WIDTH - 1] + "…"
            self.table.add_row(str(row["key"]), value, short_source(str(row["source"])))
        self.table.border_subtitle = f"{len(shown)} of {len(self._rows)} keys"
