"""Recorded turns, newest first; Enter opens the replay viewer."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer

from cephalon_tui.screens.base import ConsoleScreen

TURNS_LIMIT = 200


def _one_line(value: Any, width: int = 48) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class TurnsScreen(ConsoleScreen):
    """The turn history."""

    screen_name = "turns"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("g", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    TurnsScreen #turns { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        self.table: DataTable[str] = DataTable(id="turns", cursor_type="row")
        self.table.border_title = "Turns (Enter: replay viewer)"
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns("#", "started", "status", "input", "output")
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.call(lambda b: b.turns(TURNS_LIMIT), self._show)

    def _show(self, turns: list[dict[str, Any]]) -> None:
        self.table.clear()
        for turn in turns:
            started = str(turn.get("started_at") or "")[:19].replace("T", " ")
            self.table.add_row(
                str(turn["id"]),
                started,
                str(turn.get("status", "")),
                _one_line(turn.get("input")),
                _one_line(turn.get("output")),
                key=str(turn["id"]),
            )
        self.table.border_subtitle = f"{len(turns)} turns"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        from cephalon_tui.screens.replay import ReplayScreen

        if event.row_key.value is not None:
            self.app.push_screen(ReplayScreen(int(event.row_key.value)))
