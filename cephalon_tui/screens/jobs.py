"""Job runs: recent runs from the store, refreshed as ``job.run`` signals arrive."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Footer

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.screens.base import ConsoleScreen
from cephalon_tui.screens.detail import DetailScreen, fields_table

JOBS_LIMIT = 200


class JobsScreen(ConsoleScreen):
    """Heartbeat job runs, newest first; Enter shows a run's detail."""

    screen_name = "jobs"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("g", "reload", "Reload"),
    ]
    DEFAULT_CSS = """
    JobsScreen #jobs { height: 1fr; }
    """

    def compose(self) -> ComposeResult:
        self.table: DataTable[str] = DataTable(id="jobs", cursor_type="row")
        self.table.border_title = "Job runs"
        yield self.table
        yield Footer()

    def on_mount(self) -> None:
        self.table.add_columns("#", "job", "started", "finished", "status", "error")
        self._runs: dict[str, dict[str, Any]] = {}
        self.table.focus()
        self.action_reload()

    def action_reload(self) -> None:
        self.call(lambda b: b.job_runs(JOBS_LIMIT), self._show)

    def show_live_jobs(self, model: ConsoleModel) -> None:
        """A job started or finished: read the runs again."""
        self.action_reload()

    def _show(self, runs: list[dict[str, Any]]) -> None:
        self.table.clear()
        self._runs = {str(r["id"]): r for r in runs}
        for run in runs:
            self.table.add_row(
                str(run["id"]),
                str(run.get("job", "")),
                str(run.get("started_at") or "")[:19].replace("T", " "),
                str(run.get("finished_at") or "")[:19].replace("T", " "),
                str(run.get("status", "")),
                " ".join(str(run.get("error") or "").split())[:60],
                key=str(run["id"]),
            )
        self.table.border_subtitle = f"{len(runs)} runs" if runs else "no job runs yet"

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        run = self._runs.get(str(event.row_key.value))
        if run is None:
            return
        detail = json.dumps(run.get("detail") or {}, indent=2, default=str)
        rows = [(k, v) for k, v in run.items() if k != "detail"] + [("detail", detail)]
        self.app.push_screen(DetailScreen(f"Job run {run['id']}", fields_table(rows)))
