"""A modal with the full detail of one thing (a tool call, a memory's explanation)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.console import Group, RenderableType
from rich.json import JSON
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from cephalon_tui.console_rows import ToolRow


def fields_table(rows: list[tuple[str, Any]]) -> Table:
    """Two columns: name, value (values as text, never markup)."""
    table = Table(box=None, show_header=False, padding=(0, 1))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in rows:
        table.add_row(name, Text("—" if value is None else str(value)))
    return table


def tool_detail(row: ToolRow) -> RenderableType:
    """Everything the log knows about one call."""
    table = fields_table(
        [
            ("call", row.call_id),
            ("turn", row.turn_id),
            ("tool", row.tool),
            ("scope", row.scope),
            ("status", row.status),
            ("attempts", row.attempts),
            ("duration", None if row.duration_ms is None else f"{row.duration_ms:.1f} ms"),
            ("replayed", row.replayed),
            ("reason", row.reason),
        ]
    )
    args: RenderableType = (
        JSON.from_data(row.args)
        if row.args is not None
        else Text("not known (the call was denied before it started)", style="italic")
    )
    return Group(table, Text("\narguments", style="bold"), args)


def memory_detail(item: dict[str, Any]) -> RenderableType:
    """A memory and every signal that ranked it (the "why this memory" view)."""
    explain = dict(item.get("explain") or {})
    activation = explain.pop("activation", {}) or {}
    rows: list[tuple[str, Any]] = [
        ("memory", item.get("id")),
        ("kind", item.get("kind")),
        ("score", item.get("score")),
        ("pinned", item.get("pinned")),
    ]
    rows += [(key.replace("_", " "), value) for key, value in explain.items()]
    rows += [(f"activation {key}", value) for key, value in activation.items()]
    return Group(Text(str(item.get("content", "")) + "\n"), fields_table(rows))


class DetailScreen(ModalScreen[None]):
    """A scrollable detail box; Escape closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q", "dismiss", "Close")]
    DEFAULT_CSS = """
    DetailScreen { align: center middle; }
    DetailScreen > VerticalScroll {
        width: 80%; height: 80%;
        border: round $primary; background: $surface; padding: 0 1;
    }
    """

    def __init__(self, title: str, body: RenderableType) -> None:
        super().__init__()
        self._title = title
        self._body = body

    def compose(self) -> ComposeResult:
        box = VerticalScroll()
        box.border_title = self._title
        box.border_subtitle = "esc closes"
        with box:
            yield Static(self._body)

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()
