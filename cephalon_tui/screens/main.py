"""The main screen: chat on the left, the mind's panels on the right, status below."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Footer

from cephalon_tui.console_model import (
    ATTENTION,
    CHAT,
    CONTEXT,
    GUT,
    STATE,
    STATUS,
    TOOLS,
    ConsoleModel,
)
from cephalon_tui.widgets.attention import AttentionPanel
from cephalon_tui.widgets.chat import ChatLog
from cephalon_tui.widgets.context import ContextPanel
from cephalon_tui.widgets.gut import GutPanel
from cephalon_tui.widgets.prompt import PromptInput
from cephalon_tui.widgets.state_report import StateReportPanel
from cephalon_tui.widgets.status_bar import StatusBar
from cephalon_tui.widgets.tool_log import ToolLog

ALL_PANELS = {CHAT, ATTENTION, GUT, STATE, TOOLS, CONTEXT, STATUS}

PANEL_KEYS = {"toggle_pause", "unlock", "next_theme", "open", "focus_prompt"}
"""Single-letter actions: live when the focus is on a panel, not while typing."""


class MainScreen(Screen[None]):
    """Every live panel at once."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "leave_prompt", "Panels"),
        Binding("i", "focus_prompt", "Chat"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("u", "unlock", "Unlock writes"),
        Binding("t", "next_theme", "Theme"),
        Binding("m", "open('memory')", "Memory"),
        Binding("r", "open('turns')", "Turns"),
        Binding("j", "open('jobs')", "Jobs"),
        Binding("o", "open('policy')", "Policy"),
    ]

    def __init__(self, model: ConsoleModel, show_timings: bool = True) -> None:
        """Create the screen.

        Args:
            model: the console model the panels render.
            show_timings: include durations and rates.
        """
        super().__init__()
        self.model = model
        self.show_timings = show_timings
        self._ready = False

    def compose(self) -> ComposeResult:
        self.chat = ChatLog(id="chat")
        self.prompt = PromptInput(id="prompt")
        self.attention = AttentionPanel(id="attention")
        self.gut = GutPanel(id="gut")
        self.state_report = StateReportPanel(id="state")
        self.tools = ToolLog(id="tools")
        self.context = ContextPanel(id="context")
        self.status = StatusBar(id="status")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield self.chat
                yield self.prompt
            with Vertical(id="right"):
                yield self.attention
                with Horizontal(id="mid-row"):
                    yield self.gut
                    yield self.state_report
                yield self.tools
                yield self.context
        yield self.status
        yield Footer()

    def on_mount(self) -> None:
        self.prompt.focus()
        self._ready = True
        self.call_after_refresh(self.show, set(ALL_PANELS))

    def show(self, dirty: set[str]) -> None:
        """Re-render the panels whose data changed (all of them once mounted).

        Args:
            dirty: panel names (see ``console_model``) to redraw.
        """
        if not self._ready:
            return  # on_mount draws everything
        model, show_timings = self.model, self.show_timings
        if CHAT in dirty:
            self.chat.show(model)
        if ATTENTION in dirty:
            self.attention.show(model)
        if GUT in dirty:
            self.gut.show(model)
        if STATE in dirty:
            self.state_report.show(model)
        if TOOLS in dirty:
            self.tools.show(model, show_timings)
        if CONTEXT in dirty:
            self.context.show(model)
        if STATUS in dirty:
            self.status.show(model, show_timings)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = self.focused is self.prompt
        if action == "leave_prompt":
            return typing
        if action in PANEL_KEYS:
            return not typing
        return True

    async def action_toggle_pause(self) -> None:
        await self.app.run_action("toggle_pause")

    async def action_unlock(self) -> None:
        await self.app.run_action("unlock")

    async def action_next_theme(self) -> None:
        await self.app.run_action("next_theme")

    async def action_open(self, name: str) -> None:
        await self.app.run_action(f"open({name!r})")

    def action_leave_prompt(self) -> None:
        self.tools.focus()

    def action_focus_prompt(self) -> None:
        self.prompt.focus()
