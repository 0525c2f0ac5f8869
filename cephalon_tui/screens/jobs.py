"""Job runs: recent runs from the store, refreshed as ``job.run`` signals arrive."""

from __future__ import annotations

import json
from typing import Any

from textual.widgets import DataTable

from cephalon_tui.console_model import ConsoleModel
from cephalon_tui.screens.base import TableScreen
from cephalon_tui.screens.detail import DetailScreen, fields_table
from engine.backend import ConsoleBackend

JOBS_LIMIT = 200


class JobsScreen(TableScreen):
    """Heartbeat job runs, newest first; Enter shows a run's detail."""

    screen_name = "jobs"
    table_id = "jobs"
    table_title = "Job runs"
    columns = ("#", "job", "started", "finished", "status", "error")

    def __init__(self) -> None:
        super().__init__()
        self._runs: dict[str, dict[str, Any]] = {}

    def fetch(self, backend: ConsoleBackend) -> list[dict[str, Any]]:
        return backend.job_runs(JOBS_LIMIT)

    def show_live_jobs(self, model: ConsoleModel) -> None:
        """A job started or finished: read the runs again."""
        self.action_reload()

    def show_rows(self, runs: list[dict[str, Any]]) -> None:
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
