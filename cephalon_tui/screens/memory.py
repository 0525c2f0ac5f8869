"""The memory browser: hybrid search with explanations; pin, unpin, forget."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.widgets import DataTable, Footer, Input, Static

from cephalon_tui.screens.base import ConsoleScreen
from cephalon_tui.screens.confirm import ConfirmScreen
from cephalon_tui.screens.detail import memory_detail

SEARCH_K = 20


class MemoryScreen(ConsoleScreen):
    """Search memories; the highlighted hit's explanation shows underneath."""

    screen_name = "memory"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("slash", "focus_search", "Search"),
        Binding("p", "toggle_pin", "Pin/unpin"),
        Binding("f", "forget", "Forget"),
    ]
    DEFAULT_CSS = """
    MemoryScreen #memory-hits { height: 1fr; }
    MemoryScreen #memory-why { height: 14; border: round $border-blurred; padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        self.search = Input(placeholder="search memories (Enter)", id="memory-search")
        self.hits: DataTable[Any] = DataTable(id="memory-hits", cursor_type="row")
        self.why = Static(Text("search to see memories and why they rank", style="italic"))
        box = VerticalScroll(self.why, id="memory-why")
        box.border_title = "Why"
        with Vertical():
            yield self.search
            yield self.hits
            yield box
        yield Footer()

    def on_mount(self) -> None:
        self.hits.border_title = "Memories"
        self.hits.add_columns("#", "kind", "score", "pin", "content")
        self._results: list[dict[str, Any]] = []
        self.search.focus()

    def action_focus_search(self) -> None:
        self.search.focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.run_search(event.value)

    def run_search(self, query: str) -> None:
        """Search and show the hits (an empty query clears the list)."""
        query = query.strip()
        if not query:
            self._show([])
            return
        self.hits.border_subtitle = "searching…"
        self.call(lambda b: b.memory_search(query, SEARCH_K), self._show)

    def _show(self, results: list[dict[str, Any]]) -> None:
        self._results = results
        self.hits.clear()
        for index, hit in enumerate(results):
            content = " ".join(str(hit.get("content", "")).split())
            self.hits.add_row(
                str(hit["id"]),
                str(hit.get("kind", "")),
                f"{hit.get('score', 0):.3f}",
                "●" if hit.get("pinned") else "",
                content,
                key=str(index),
            )
        self.hits.border_subtitle = f"{len(results)} hits"
        if results:
            self.hits.focus()
            self._explain(0)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._explain(int(event.row_key.value))

    def _explain(self, index: int) -> None:
        if 0 <= index < len(self._results):
            self.why.update(memory_detail(self._results[index]))

    def _current(self) -> dict[str, Any] | None:
        row = self.hits.cursor_row
        return self._results[row] if 0 <= row < len(self._results) else None

    def action_toggle_pin(self) -> None:
        hit = self._current()
        if hit is None:
            return
        memory_id, pinned = int(hit["id"]), not hit.get("pinned")
        self.call(
            lambda b: b.memory_set_pinned(memory_id, pinned),
            lambda _: self._changed(f"memory {memory_id} {'pinned' if pinned else 'unpinned'}"),
            lane="command",
        )

    def action_forget(self) -> None:
        hit = self._current()
        if hit is None:
            return
        memory_id = int(hit["id"])

        def confirmed(yes: bool | None) -> None:
            if yes:
                self.call(
                    lambda b: b.memory_forget(memory_id),
                    lambda _: self._changed(f"memory {memory_id} forgotten"),
                    lane="command",
                )

        preview = " ".join(str(hit.get("content", "")).split())[:60]
        self.app.push_screen(ConfirmScreen(f"Forget memory {memory_id}?\n“{preview}”"), confirmed)

    def _changed(self, what: str) -> None:
        self.notify(what, timeout=3)
        self.run_search(self.search.value)
