"""The replay viewer: step through a recorded turn stage by stage, re-run it, see the diff."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from cephalon_tui.screens.base import ConsoleScreen
from cephalon_tui.screens.replay_stages import Stage, build_stages, check_marks, rerun_body

RERUN = "rerun"


class ReplayScreen(ConsoleScreen):
    """One recorded turn: stages on the left, the selected stage on the right."""

    screen_name = "replay"
    BINDINGS: ClassVar[list[BindingType]] = [
        *ConsoleScreen.BINDINGS,
        Binding("n,right", "step(1)", "Next stage"),
        Binding("b,left", "step(-1)", "Previous"),
        Binding("x", "rerun(False)", "Re-run"),
        Binding("l", "rerun(True)", "Re-run live"),
    ]
    DEFAULT_CSS = """
    ReplayScreen #replay-stages { width: 26; height: 100%; }
    ReplayScreen #replay-body { width: 1fr; padding: 0 1; }
    """

    def __init__(self, turn_id: int) -> None:
        super().__init__()
        self.turn_id = turn_id
        self.stages: list[Stage] = []
        self.marks: dict[str, bool] = {}
        self.result: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        self.stage_list = OptionList(id="replay-stages")
        self.stage_list.border_title = f"Turn {self.turn_id}"
        self.body = Static(Text("loading the turn…", style="italic"))
        self.scroll = VerticalScroll(self.body, id="replay-body")
        with Horizontal():
            yield self.stage_list
            yield self.scroll
        yield Footer()

    def on_mount(self) -> None:
        self.stage_list.focus()
        self.call(lambda b: b.turn(self.turn_id), self._loaded, failed=self._failed)

    def _failed(self, error: BaseException) -> None:
        self.body.update(Text(f"cannot show turn {self.turn_id}: {error}"))

    def _loaded(self, record: dict[str, Any]) -> None:
        self.stages = build_stages(record, self.console.show_timings)
        self.stage_list.border_subtitle = str(record.get("status", ""))
        self._fill(0)

    def _label(self, stage: Stage) -> str:
        checked = [self.marks[c] for c in stage.checks if c in self.marks]
        if not checked:
            return stage.title
        return f"{stage.title}  {'✓' if all(checked) else '✗'}"

    def _fill(self, highlight: int) -> None:
        self.stage_list.clear_options()
        options = [Option(self._label(s), id=s.key) for s in self.stages]
        if self.result is not None:
            options.append(Option("7 re-run diff", id=RERUN))
        self.stage_list.add_options(options)
        self.stage_list.highlighted = highlight
        self._show(highlight)

    def _show(self, index: int) -> None:
        if index < len(self.stages):
            stage = self.stages[index]
            self.scroll.border_title = stage.title
            self.body.update(stage.body)
        elif self.result is not None:
            self.scroll.border_title = "re-run"
            self.body.update(rerun_body(self.result))
        self.scroll.scroll_home(animate=False)

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self._show(event.option_index)

    def action_step(self, delta: int) -> None:
        count = self.stage_list.option_count
        if count:
            current = self.stage_list.highlighted or 0
            self.stage_list.highlighted = max(0, min(count - 1, current + delta))

    def action_rerun(self, live: bool) -> None:
        if not self.stages:
            return
        self.notify(f"re-running turn {self.turn_id}{' live' if live else ''}…", timeout=2)
        self.call(lambda b: b.replay(self.turn_id, live), self._rerun_done)

    def _rerun_done(self, result: dict[str, Any]) -> None:
        self.result = result
        self.marks = check_marks(result)
        self._fill(len(self.stages))
