"""What the operator can do from anywhere: the key bindings' actions and the palette.

A mixin of :class:`cephalon_tui.app.CephalonApp`: pause/resume, new chat, unlock
write tools for N minutes, switch theme, open a screen. Each action that needs
the engine goes through the app's backend runner and reports in the chat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from textual.app import App, SystemCommand
from textual.screen import Screen
from textual.theme import Theme

from cephalon_tui.backend_runner import BackendRunner, Lane
from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.screens.main import MainScreen
from engine.backend import ConsoleBackend

SCREENS = ("memory", "turns", "jobs", "policy")


class ConsoleActions(App[None]):
    """Operator actions shared by the bindings and the command palette."""

    model: ConsoleModel
    main: MainScreen
    cephalon_themes: dict[str, Theme]
    runner: BackendRunner

    def note(self, text: str) -> None:
        """A console notice in the chat (the app implements it)."""
        raise NotImplementedError

    def poll_status(self) -> None:
        """Refresh the status bar (the app implements it)."""
        raise NotImplementedError

    def call_backend(
        self,
        fn: Callable[[ConsoleBackend], Any],
        done: Callable[[Any, BaseException | None], None] | None = None,
        lane: Lane = "command",
    ) -> None:
        """Run a blocking backend call off the UI thread; ``done`` runs back on it.

        Args:
            fn: the call.
            done: ``done(result, error)``.
            lane: ``command`` or ``query``.
        """
        self.runner.call(fn, done, lane)

    def action_new_chat(self) -> None:
        """Start a fresh transcript (memories and the engine are untouched)."""
        self.model.clear_chat()
        self.note("new chat: the transcript was cleared; memories stay")
        self.main.prompt.focus()

    def action_toggle_pause(self) -> None:
        """Pause the engine, or resume it when paused."""
        paused = self.model.engine_state == "paused"

        def done(_: Any, error: BaseException | None) -> None:
            self.note(
                f"could not {'resume' if paused else 'pause'}: {error}"
                if error
                else "running"
                if paused
                else "paused: messages are queued, not answered"
            )
            self.poll_status()

        self.call_backend(lambda b: b.resume() if paused else b.pause(), done)

    def action_unlock(self) -> None:
        """Ask for how many minutes to let write tools run, then unlock."""
        from cephalon_tui.screens.unlock import UnlockScreen

        def chosen(minutes: float | None) -> None:
            if minutes is None:
                return

            def done(until: Any, error: BaseException | None) -> None:
                self.note(
                    f"unlock failed: {error}" if error else f"write tools unlocked until {until}"
                )
                self.poll_status()

            self.call_backend(lambda b: b.unlock(minutes), done)

        self.push_screen(UnlockScreen(), chosen)

    def action_next_theme(self) -> None:
        """Switch to the next Cephalon theme."""
        names = list(self.cephalon_themes)
        index = names.index(self.theme) if self.theme in names else -1
        self.theme = names[(index + 1) % len(names)]
        self.notify(f"theme: {self.theme}", timeout=2)

    def action_open(self, name: str) -> None:
        """Open a screen: ``memory``, ``turns``, ``jobs`` or ``policy``."""
        from cephalon_tui.screens.registry import make_screen

        if name in SCREENS and getattr(self.screen, "screen_name", None) != name:
            self.push_screen(make_screen(name))

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        paused = self.model.engine_state == "paused"
        yield SystemCommand(
            "Resume the engine" if paused else "Pause the engine",
            "Take turns again" if paused else "Stop taking new turns (p)",
            self.action_toggle_pause,
        )
        yield SystemCommand("New chat", "Clear the transcript (ctrl+n)", self.action_new_chat)
        yield SystemCommand("Unlock write tools", "For N minutes (u)", self.action_unlock)
        yield SystemCommand("Next theme", "Cycle the Cephalon themes (t)", self.action_next_theme)
        for name, key, help_text in (
            ("memory", "m", "Search memories, pin, unpin, forget"),
            ("turns", "r", "Recorded turns and the replay viewer"),
            ("jobs", "j", "Job runs"),
            ("policy", "o", "Effective policy values and where each came from"),
        ):
            yield SystemCommand(
                f"Open {name}", f"{help_text} ({key})", lambda n=name: self.action_open(n)
            )
