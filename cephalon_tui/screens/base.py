"""What every secondary screen shares: a title, Escape back, backend calls that
answer only while the screen is still shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.binding import Binding, BindingType
from textual.screen import Screen

from cephalon_tui.backend_runner import Lane
from engine.backend import ConsoleBackend

if TYPE_CHECKING:
    from cephalon_tui.app import CephalonApp


class ConsoleScreen(Screen[None]):
    """A full screen over the main one; Escape goes back."""

    screen_name: ClassVar[str] = ""
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "app.pop_screen", "Back")]

    @property
    def console(self) -> CephalonApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def call(
        self,
        fn: Callable[[ConsoleBackend], Any],
        done: Callable[[Any], None],
        *,
        lane: Lane = "query",
        failed: Callable[[BaseException], None] | None = None,
    ) -> None:
        """Run a backend call; ``done(result)`` (or ``failed(error)``) if still shown.

        Args:
            fn: the blocking call.
            done: receives the result on the UI thread.
            lane: ``query`` (default) or ``command``.
            failed: receives the error (default: a notification).
        """

        def answer(result: Any, error: BaseException | None) -> None:
            if not self.is_attached:
                return
            if error is None:
                done(result)
            elif failed is not None:
                failed(error)
            else:
                self.notify(str(error), severity="error", timeout=6)

        self.console.call_backend(fn, answer, lane)
