"""The chat panel: the operator's messages and the streamed replies."""

from __future__ import annotations

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.console_rows import ChatEntry

_LABEL = {"you": "you", "cephalon": "cephalon", "note": "·", "input": "⇢"}


def render_entry(entry: ChatEntry) -> Text:
    """One chat entry as styled text (user text is never parsed as markup).

    Args:
        entry: the entry.

    Returns:
        The text: a bold label, the message, and its state when not final.
    """
    label = _LABEL.get(entry.role, entry.role)
    if entry.role == "input":
        label = f"⇢ {entry.source}"
    elif entry.role == "you" and entry.source != "operator":
        label = f"you ({entry.source})"
    text = Text.assemble((label, "bold"), " ", entry.text)
    if entry.streaming:
        text.append("▌", style="blink")
    if entry.role == "you" and entry.status in ("sending", "queued"):
        text.append(f"  ({entry.status})", style="dim italic")
    elif entry.role == "you" and entry.status.startswith("error"):
        text.append(f"  ({entry.status})", style="italic")
    return text


class ChatMessage(Static):
    """One entry of the transcript."""

    DEFAULT_CSS = """
    ChatMessage { margin: 0 0 1 0; }
    ChatMessage.you { color: $text-primary; }
    ChatMessage.cephalon { color: $foreground; }
    ChatMessage.input { color: $text-secondary; }
    ChatMessage.note { color: $text-muted; text-style: italic; }
    """


class ChatLog(VerticalScroll):
    """The transcript; follows the newest entry unless scrolled up."""

    BORDER_TITLE = "Chat"
    DEFAULT_CSS = """
    ChatLog { padding: 0 1; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: list[tuple[ChatEntry, ChatMessage, Text]] = []

    def on_mount(self) -> None:
        # stay at the bottom as entries grow; scrolling up releases it, the end restores it
        self.anchor()

    def show(self, model: ConsoleModel) -> None:
        """Bring the transcript in line with the model (only changed entries re-render).

        Args:
            model: the console model.
        """
        alive = {id(e) for e in model.chat}
        keep = []
        for entry, widget, rendered in self._shown:
            if id(entry) in alive:
                keep.append((entry, widget, rendered))
            else:
                widget.remove()
        self._shown = keep
        known = {id(e): i for i, (e, _, _) in enumerate(self._shown)}
        new_widgets = []
        for entry in model.chat:
            text = render_entry(entry)
            index = known.get(id(entry))
            if index is None:
                widget = ChatMessage(text, classes=entry.role)
                self._shown.append((entry, widget, text))
                new_widgets.append(widget)
            elif self._shown[index][2] != text:
                self._shown[index][1].update(text)
                self._shown[index] = (entry, self._shown[index][1], text)
        if new_widgets:
            self.mount_all(new_widgets)
