"""The operator's input: multi-line, Enter sends, with a history of sent messages."""

from __future__ import annotations

from typing import ClassVar

from textual import events
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import TextArea

NEWLINE_KEYS = ("ctrl+j", "alt+enter", "shift+enter")


class PromptInput(TextArea):
    """A multi-line message box.

    Enter sends; Ctrl+J (or Alt+Enter / Shift+Enter where the terminal reports
    them) starts a new line; Up on the first line and Down on the last line walk
    the history of sent messages.
    """

    BORDER_TITLE = "Message"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "send", "Send"),
        Binding("ctrl+j", "newline", "New line"),
    ]
    DEFAULT_CSS = """
    PromptInput { height: 5; }
    """

    class Submitted(Message):
        """The operator sent a message."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text
            """The message, stripped."""

    def __init__(self, *, id: str | None = None, history_size: int = 200) -> None:
        super().__init__(id=id, soft_wrap=True, show_line_numbers=False, tab_behavior="focus")
        self.sent: list[str] = []
        """Sent messages, oldest first (the recall history)."""
        self._history_size = history_size
        self._browse: int | None = None
        self._draft = ""

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self._send()
            return
        if event.key in NEWLINE_KEYS:
            event.stop()
            event.prevent_default()
            start, end = self.selection
            self._replace_via_keyboard("\n", start, end)
            return
        if event.key == "up" and self.cursor_location[0] == 0 and self._recall(-1):
            event.stop()
            event.prevent_default()
            return
        last_row = self.document.line_count - 1
        if event.key == "down" and self.cursor_location[0] == last_row and self._recall(1):
            event.stop()
            event.prevent_default()
            return
        await super()._on_key(event)

    def action_send(self) -> None:
        """Send the message (Enter; the key is handled in ``_on_key``)."""
        self._send()

    def action_newline(self) -> None:
        """Start a new line (Ctrl+J)."""
        start, end = self.selection
        self._replace_via_keyboard("\n", start, end)

    def _send(self) -> None:
        text = self.text.strip()
        if not text:
            return
        if not self.sent or self.sent[-1] != text:
            self.sent.append(text)
            del self.sent[: -self._history_size]
        self._browse = None
        self.clear()
        self.post_message(self.Submitted(text))

    def _recall(self, step: int) -> bool:
        """Move through the history; True when the text changed."""
        if not self.sent:
            return False
        if self._browse is None:
            if step > 0:
                return False
            self._draft = self.text
            index = len(self.sent) - 1
        else:
            index = self._browse + step
        if index >= len(self.sent):
            self._browse = None
            self.load_text(self._draft)
        elif index < 0:
            return False
        else:
            self._browse = index
            self.load_text(self.sent[index])
        self.move_cursor(self.document.end)
        return True
