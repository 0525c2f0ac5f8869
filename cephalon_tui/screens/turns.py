"""Recorded turns, newest first; Enter opens the replay viewer."""

from __future__ import annotations

from typing import Any

from textual.widgets import DataTable

from cephalon_tui.screens.base import TableScreen
from engine.backend import ConsoleBackend

TURNS_LIMIT = 200


def _one_line(value: Any, width: int = 48) -> str:
    text = " ".join(str(value or "").split())
    return text if len(text) <= width else text[: width - 1] + "…"


class TurnsScreen(TableScreen):
    """The turn history."""

    screen_name = "turns"
    table_id = "turns"
    table_title = "Turns (Enter: replay viewer)"
    columns = ("#", "started", "status", "input", "output")

    def fetch(self, backend: ConsoleBackend) -> list[dict[str, Any]]:
        return backend.turns(TURNS_LIMIT)

    def show_rows(self, turns: list[dict[str, Any]]) -> None:
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
