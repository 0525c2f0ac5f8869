"""The cognitive-state panel: the report the model sees this turn, verbatim."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from cephalon_tui.console_model import ConsoleModel


class StateReportPanel(VerticalScroll):
    """Scrollable text of the latest cognitive state report."""

    BORDER_TITLE = "Cognitive state"
    DEFAULT_CSS = """
    StateReportPanel { padding: 0 1; }
    """

    def compose(self) -> ComposeResult:
        self._body = Static(Text("no state report yet", style="italic"))
        yield self._body

    def show(self, model: ConsoleModel) -> None:
        """Render the latest report (the subtitle names its turn)."""
        if model.state_report:
            self._body.update(Text(model.state_report))
            self.border_subtitle = f"turn {model.state_turn}" if model.state_turn else ""
        self.scroll_home(animate=False)
