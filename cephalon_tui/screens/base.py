"""What every secondary screen shares: a title, Escape back, backend calls that
answer only while the screen is still shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer

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


class TableScreen(ConsoleScreen):
    """A screen that is one table of backend rows, read again with ``g``.

    Subclasses name the table (``table_id``, ``table_title``, ``columns``), say how
    to :meth:`fetch` the rows and how to :meth:`show_rows` them.
    """

    table_id: ClassVar[str] = ""
    table_title: ClassVar[str] = ""
    columns: ClassVar[tuple[str, ...]] = ()
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("g", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    TableScreen DataTable { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        self.table: DataTable[str] = DataTable(id=self.table_id, cursor_type="row")
        self.table.border_title = self.table_title
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns(*self.columns)
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        """Read the rows again."""
        self.call(self.fetch, self.show_rows)

    def fetch(self, backend: ConsoleBackend) -> list[dict[str, Any]]:
        """The rows (runs on a backend lane, never on the UI thread).

        Args:
            backend: the engine's backend.

        Returns:
            The rows to show.
        """
        raise NotImplementedError

    def show_rows(self, rows: list[dict[str, Any]]) -> None:
        """Fill the table (on the UI thread).

        Args:
            rows: what :meth:`fetch` returned.
        """
        raise NotImplementedError
