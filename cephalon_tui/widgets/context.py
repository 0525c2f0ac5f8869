"""The context panel: this turn's memories and why each was chosen (per-signal scores)."""

from __future__ import annotations

from typing import Any

from textual.message import Message
from textual.widgets import DataTable

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.widgets.table_fit import cut, last_column_width

COLUMNS = ("#", "score", "bm25", "ann", "rr", "act", "wt", "rec", "memory")
WIDTHS = (3, 5, 4, 4, 4, 5, 4, 4)
"""Fixed widths of every column but the last (no waiting for idle-time measuring)."""
"""Fused score, keyword rank, vector similarity, rerank, ACT-R activation, Beta weight
mean, recency; the memory's text last (its kind and the rest are in the detail)."""


def _num(value: Any, fmt: str = "{:.2f}") -> str:
    return fmt.format(value) if isinstance(value, int | float) else "—"


def explain_cells(item: dict[str, Any], width: int = 80) -> tuple[str, ...]:
    """One memory's row: id, fused score, the signals behind it, its text.

    Args:
        item: ``{"id", "kind", "content", "score", "explain"}`` from a context signal.
        width: room for the text.

    Returns:
        The cells (ranks as ``#n``, scores to two decimals, ``—`` when absent).
    """
    e = item.get("explain") or {}
    rerank = e.get("rerank")
    activation = (e.get("activation") or {}).get("total")
    content = cut(str(item.get("content", "")), width)
    return (
        str(item.get("id", "?")),
        _num(item.get("score"), "{:.3f}"),
        f"#{e['bm25_rank']}" if e.get("bm25_rank") else "—",
        _num(e.get("ann_similarity")),
        _num(rerank) if isinstance(rerank, int | float) else "—",
        _num(activation),
        _num(e.get("weight_mean")),
        _num(e.get("recency")),
        content,
    )


class ContextPanel(DataTable[str]):
    """Memories in this turn's context; Enter on a row shows the full explanation."""

    BORDER_TITLE = "Context"

    class Selected(Message):
        """The operator asked why one memory was chosen."""

        def __init__(self, item: dict[str, Any]) -> None:
            super().__init__()
            self.item = item

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row")
        self._items: list[dict[str, Any]] = []

    def show(self, model: ConsoleModel) -> None:
        """Replace the rows with the latest context (it changes once per turn)."""
        self._items = list(model.context)
        width = last_column_width(self.size.width, WIDTHS, self.cell_padding)
        self.clear(columns=True)
        for label, column_width in zip(COLUMNS, (*WIDTHS, width), strict=True):
            self.add_column(label, width=column_width)
        for index, item in enumerate(self._items):
            self.add_row(*explain_cells(item, width), key=str(index))
        query = " ".join(model.context_query.split())
        self.border_subtitle = (
            f"turn {model.context_turn}: {len(self._items)} for “{query[:40]}”"
            if model.context_turn is not None
            else ""
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Selected(self._items[int(event.row_key.value)]))
