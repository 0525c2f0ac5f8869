"""Ask the operator for how long write tools may run."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label

DEFAULT_MINUTES = "15"


class UnlockScreen(ModalScreen[float | None]):
    """A one-field prompt: minutes (15 unless changed). Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    UnlockScreen { align: center middle; }
    UnlockScreen > Vertical {
        width: 56; height: auto; border: round $warning; background: $surface; padding: 0 1;
    }
    UnlockScreen #unlock-error { color: $error; }
    """

    def compose(self) -> ComposeResult:
        box = Vertical()
        box.border_title = "Unlock write tools"
        with box:
            yield Label("Let write, external and admin tools run for how many minutes?")
            yield Input(DEFAULT_MINUTES, id="unlock-minutes", restrict=r"[0-9.]*")
            yield Label("", id="unlock-error")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        try:
            minutes = float(text)
        except ValueError:
            self.query_one("#unlock-error", Label).update("a number of minutes, please")
            return
        if minutes <= 0:
            self.query_one("#unlock-error", Label).update("more than 0 minutes, please")
            return
        self.dismiss(minutes)

    def action_cancel(self) -> None:
        self.dismiss(None)
