"""The tool-call log: name, scope, status, duration, and the args or the denial reason."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import DataTable

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.console_rows import ToolRow
from cephalon_tui.widgets.table_fit import cut, last_column_width

COLUMNS = (
    ("#", "id"),
    ("tool", "tool"),
    ("scope", "scope"),
    ("status", "status"),
    ("ms", "ms"),
    ("args / why", "detail"),
)
WIDTHS = {"id": 3, "tool": 16, "scope": 8, "status": 9, "ms": 4}
"""Fixed widths for every column but the last (a table never shrinks a column, and a
fixed layout does not wait for the table's idle-time measuring)."""


def status_text(row: ToolRow) -> Text:
    """The status cell, readable without colour (a mark and a word)."""
    if row.status == "running":
        return Text("… running", style="italic")
    if row.status == "ok":
        return Text("✓ ok" + (" (replay)" if row.replayed else ""))
    if row.status == "denied":
        return Text("✗ denied", style="bold")
    return Text(f"! {row.status}", style="bold")


def detail_text(row: ToolRow) -> str:
    """What matters most about the call: why it was denied or failed, else its args."""
    if row.reason:  # the tool is named in its own column already
        return row.reason.removeprefix("permission denied: ").removeprefix(f"{row.tool} ")
    return row.args_summary


def row_cells(row: ToolRow, show_timings: bool, width: int = 60) -> tuple[object, ...]:
    """The cells of one call.

    Args:
        row: the call.
        show_timings: include the duration (a dot stands in for it when off).
        width: room for the last column.
    """
    duration = "" if row.duration_ms is None else f"{row.duration_ms:.0f}"
    return (
        str(row.call_id),
        cut(row.tool, WIDTHS["tool"]),
        row.scope,
        status_text(row),
        duration if show_timings else ("·" if duration else ""),
        cut(detail_text(row), width),
    )


class ToolLog(DataTable[object]):
    """Live log of tool calls; Enter (or a click) on a row opens its full detail."""

    BORDER_TITLE = "Tool calls"

    class Selected(Message):
        """The operator asked for one call's detail."""

        def __init__(self, call_id: int) -> None:
            super().__init__()
            self.call_id = call_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=False)
        self._cells: dict[str, tuple[object, ...]] = {}
        self._detail_width = 0

    def _layout_columns(self) -> None:
        """(Re)build the columns when the room for the last one changed."""
        room = last_column_width(self.size.width, WIDTHS.values(), self.cell_padding)
        if room == self._detail_width:
            return
        self._detail_width = room
        self.clear(columns=True)
        self._cells.clear()
        for label, key in COLUMNS:
            self.add_column(label, key=key, width=WIDTHS.get(key, room))

    def show(self, model: ConsoleModel, show_timings: bool = True) -> None:
        """Add new calls, update changed ones, drop trimmed ones (no full rebuild).

        Args:
            model: the console model.
            show_timings: include durations (off for deterministic snapshots).
        """
        follow = self.row_count == 0 or self.cursor_row >= self.row_count - 1
        self._layout_columns()
        wanted = {str(r.call_id): r for r in model.tools.values()}
        width = self._detail_width
        for key in [k for k in self._cells if k not in wanted]:
            self.remove_row(key)
            del self._cells[key]
        for key, row in wanted.items():
            cells = row_cells(row, show_timings, width)
            before = self._cells.get(key)
            if before is None:
                self.add_row(*cells, key=key)
            elif before != cells:
                for (_, column), old, new in zip(COLUMNS, before, cells, strict=True):
                    if old != new:
                        self.update_cell(key, column, new)
            self._cells[key] = cells
        if follow and self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(int(event.row_key.value)))
