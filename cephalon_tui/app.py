"""The Cephalon console: a Textual app over any :class:`engine.backend.ConsoleBackend`.

Signals reach the app only through :class:`cephalon_tui.bridge.SignalBridge`; a
timer drains it ``refresh_hz`` times a second, folds the batch into the
:class:`ConsoleModel` and redraws just the panels that changed. Blocking backend
calls run on :class:`BackendRunner` lanes and answer with messages. The app is
usable before the backend exists (``connect`` runs on a worker thread): messages
typed meanwhile are queued and sent once the engine is ready.
"""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, ClassVar

from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message

from cephalon_tui.app_actions import ConsoleActions
from cephalon_tui.backend_runner import BackendAnswer, BackendRunner
from cephalon_tui.bridge import SignalBridge
from cephalon_tui.console_model import (
    ATTENTION,
    CHAT,
    CONTEXT,
    GUT,
    JOBS,
    STATE,
    STATUS,
    TOOLS,
    ConsoleModel,
)
from cephalon_tui.console_rows import ChatEntry
from cephalon_tui.engine_boot import Connect
from cephalon_tui.screens.main import MainScreen
from cephalon_tui.themes import THEMES_DIR, load_themes, resolve_theme_name
from cephalon_tui.widgets.context import ContextPanel
from cephalon_tui.widgets.prompt import PromptInput
from cephalon_tui.widgets.tool_log import ToolLog
from engine.backend import ConsoleBackend
from engine.gc_tuning import freeze_startup_objects
from engine.signals import EngineState

PANEL_MIN_SECONDS = {ATTENTION: 0.5, GUT: 0.5, TOOLS: 0.5, CONTEXT: 0.5, STATE: 0.5}
"""Least seconds between redraws of the costlier panels (chat and status: every tick)."""


class BackendReady(Message):
    """``connect`` finished: the engine is up."""


class BootFailed(Message):
    """``connect`` raised: the console stays open to show why."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class CephalonApp(ConsoleActions):
    """The operator console."""

    TITLE = "Cephalon"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+n", "new_chat", "New chat", priority=True)
    ]

    def __init__(
        self,
        backend: ConsoleBackend | None = None,
        *,
        connect: Connect | None = None,
        theme: str | None = None,
        refresh_hz: float = 5.0,
        status_seconds: float = 1.0,
        show_timings: bool = True,
        themes_dir: Any = THEMES_DIR,
    ) -> None:
        """Create the console.

        Args:
            backend: a ready backend (the caller closes it), or None with ``connect``.
            connect: builds the backend on a worker thread; the app then owns and closes it.
            theme: a theme name (None: the default theme).
            refresh_hz: how often panels may redraw, whatever the signal rate.
            status_seconds: how often the status bar asks the backend for its facts.
            show_timings: show durations and rates (off for deterministic snapshots).
            themes_dir: where the theme files are.

        Raises:
            CephalonError: an unknown theme or a bad theme file.
        """
        super().__init__()
        if (backend is None) == (connect is None):
            raise ValueError("give exactly one of backend or connect")
        self.model = ConsoleModel()
        self.bridge = SignalBridge()
        self.runner = BackendRunner(self.post_message)
        self.refresh_hz = refresh_hz
        self.status_seconds = status_seconds
        self.show_timings = show_timings
        self.cephalon_themes = load_themes(themes_dir)
        for item in self.cephalon_themes.values():
            self.register_theme(item)
        self.theme = resolve_theme_name(theme, self.cephalon_themes)
        self._backend = backend
        self._connect = connect
        self._owns_backend = backend is None
        self._closing = False
        self._status_busy = False
        self.main = MainScreen(self.model, show_timings)
        self._deferred: set[str] = set()
        self._drawn_at: dict[str, float] = {}
        self.redraws: Counter[str] = Counter()
        """How often each panel was redrawn for signals (tests, the benchmark)."""

    # ------------------------------------------------------------ lifecycle ---
    def on_mount(self) -> None:
        self.push_screen(self.main)
        self.set_interval(1 / self.refresh_hz, self.drain_signals, name="drain")
        self.set_interval(self.status_seconds, self.poll_status, name="status")
        if self._backend is not None:
            self.model.booted = True
            self._adopt(self._backend)
            self.poll_status()
            self.call_after_refresh(freeze_startup_objects)
        else:
            self.bridge.put(EngineState(ts=datetime.now(UTC), state="starting"))
            # after the first frame: the engine's imports would compete with it for the GIL
            self.call_after_refresh(self._boot)

    @work(thread=True, exclusive=True, group="boot")
    def _boot(self) -> None:
        assert self._connect is not None

        def progress(stage: str, fraction: float | None) -> None:
            self.bridge.put(
                EngineState(ts=datetime.now(UTC), state="starting", detail=stage, progress=fraction)
            )

        try:
            backend = self._connect(progress)
        except Exception as exc:
            self.runner.fail(exc)
            self.post_message(BootFailed(exc))
            return
        if self._closing:
            backend.close()
            return
        self._backend = backend
        self._adopt(backend)
        self.post_message(BackendReady())

    def _adopt(self, backend: ConsoleBackend) -> None:
        """Observe and serve a backend (thread-safe: called from the boot worker too)."""
        self.bridge.attach(backend)
        self.runner.set_backend(backend)

    def on_backend_ready(self, _: BackendReady) -> None:
        self.drain_signals()  # every start-up progress signal came before this message
        self.model.booted = True
        self.poll_status()
        self.call_after_refresh(freeze_startup_objects)

    def on_boot_failed(self, message: BootFailed) -> None:
        self.drain_signals()
        self.model.booted = True  # no start-up signal may cover the failure
        self.model.engine_state = "failed"
        self.model.boot_detail = str(message.error)
        self.model.add_note(f"the engine could not start: {message.error}")
        self.main.show({CHAT, STATUS})

    def on_unmount(self) -> None:
        self._closing = True
        gc.unfreeze()  # let shutdown collect (and native bindings see) everything again
        self.bridge.detach()
        self.runner.stop()
        if self._owns_backend and self._backend is not None:
            self._backend.close()

    # -------------------------------------------------------- signals, calls ---
    def drain_signals(self) -> None:
        """Fold queued signals into the model and redraw what changed (the timer).

        Chat and status redraw on every tick that changed them; the costlier panels
        (tables, the plot) at most every :data:`PANEL_MIN_SECONDS`, so a flood of
        signals cannot keep the UI thread from the keyboard.
        """
        signals = self.bridge.drain()
        if not signals and not self._deferred:
            return
        dirty = self._deferred | (self.model.apply_all(signals) if signals else set())
        now = time.monotonic()
        due = {p for p in dirty if now - self._drawn_at.get(p, -1e9) >= PANEL_MIN_SECONDS.get(p, 0)}
        self._deferred = dirty - due
        if not due:
            return
        self._drawn_at.update(dict.fromkeys(due, now))
        dirty = due
        self.redraws.update(dirty)
        self.main.show(dirty)
        if JOBS in dirty and hasattr(self.screen, "show_live_jobs"):
            self.screen.show_live_jobs(self.model)

    @property
    def panels_waiting(self) -> bool:
        """True while a signal waits to be drained or a changed panel waits for its
        next allowed redraw (false once the screen shows everything received)."""
        return bool(self._deferred) or self.bridge.pending > 0

    def on_backend_answer(self, answer: BackendAnswer) -> None:
        answer.done(answer.result, answer.error)

    def poll_status(self) -> None:
        """Ask for the status bar's facts (one request in flight at a time)."""
        if self._status_busy or self.runner.backend is None:
            return
        self._status_busy = True

        def done(status: Any, error: BaseException | None) -> None:
            self._status_busy = False
            if error is None and isinstance(status, dict):
                self.main.show(self.model.set_status(status))

        self.call_backend(lambda b: b.status(), done)

    def note(self, text: str) -> None:
        """A console notice in the chat."""
        self.model.add_note(text)
        self.main.show({CHAT})

    # ------------------------------------------------------------- the chat ---
    def on_prompt_input_submitted(self, message: PromptInput.Submitted) -> None:
        entry = self.model.add_operator_message(message.text)
        if self.runner.backend is None:
            entry.status = "queued"
        self.main.show({CHAT})
        self.call_backend(lambda b: b.submit(message.text), self._submitted(entry))

    def _submitted(self, entry: ChatEntry) -> Callable[[Any, BaseException | None], None]:
        def done(candidate_id: Any, error: BaseException | None) -> None:
            if error is not None:
                entry.status = f"error: {error}"
            elif entry.status in ("sending", "queued"):
                entry.candidate_id, entry.status = int(candidate_id), "queued"
            self.main.show({CHAT})
            self.poll_status()

        return done

    def on_tool_log_selected(self, message: ToolLog.Selected) -> None:
        from cephalon_tui.screens.detail import DetailScreen, tool_detail

        row = self.model.tools.get(message.call_id)
        if row is not None:
            self.push_screen(DetailScreen(f"Tool call {row.call_id}", tool_detail(row)))

    def on_context_panel_selected(self, message: ContextPanel.Selected) -> None:
        from cephalon_tui.screens.detail import DetailScreen, memory_detail

        title = f"Why memory {message.item.get('id')}"
        self.push_screen(DetailScreen(title, memory_detail(message.item)))
