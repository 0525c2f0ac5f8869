"""The gut panel: the delta's magnitude over time as a plot, and what it points toward."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.color import Color
from textual.containers import Vertical
from textual.widgets import Static
from textual_plotext import PlotextPlot

from cephalon_tui.console_model import ConsoleModel


def toward_text(model: ConsoleModel, width: int = 60) -> Text:
    """The latest reading and the memories nearest to the delta, on a few lines."""
    if not model.gut:
        return Text("no gut readings yet", style="italic")
    last = model.gut[-1]
    text = Text.assemble(
        ("now ", "dim"), f"{last.intensity:.2f}", ("  charge ", "dim"), f"{last.charge:+.2f}"
    )
    if not model.gut_toward:
        text.append("  (points nowhere in particular)", style="dim italic")
    for item in model.gut_toward[:3]:
        content = " ".join(str(item.get("content", "")).split())
        similarity = item.get("similarity")
        sim = f" {similarity:.2f}" if isinstance(similarity, int | float) else ""
        line = f"\n→ #{item.get('id', '?')}{sim} {content}"
        text.append(line if len(line) <= width else line[: width - 1] + "…")
    return text


def integer_ticks(first: int, last: int, most: int = 4) -> list[int]:
    """Up to ``most`` evenly spread whole-number ticks from ``first`` to ``last``."""
    if last <= first:
        return [first]
    step = max(1, -(-(last - first) // (most - 1)))
    ticks = list(range(first, last + 1, step))
    if ticks[-1] != last:
        ticks[-1] = last
    return ticks


class GutPlot(PlotextPlot):
    """Delta intensity per reading (braille line)."""

    def draw(self, model: ConsoleModel) -> None:
        """Redraw from the model's readings."""
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.xaxes(True, False)
        plt.yaxes(True, False)
        plt.yfrequency(3)
        if model.gut:
            xs = [p.index for p in model.gut]
            ys = [p.intensity for p in model.gut]
            accent = Color.parse(self.app.theme_variables.get("accent", "#ffa62b")).rgb
            plt.plot(xs, ys, marker="braille", color=accent)
            plt.ylim(0, max(1.0, max(ys)))
            plt.xlim(xs[0], max(xs[-1], xs[0] + 1))
            plt.xticks([float(t) for t in integer_ticks(xs[0], xs[-1])])
        else:
            plt.ylim(0, 1)
        self.refresh()


class GutPanel(Vertical):
    """Plot on top, the direction underneath."""

    BORDER_TITLE = "Gut"
    DEFAULT_CSS = """
    GutPanel > GutPlot { height: 1fr; }
    GutPanel > #gut-toward { height: auto; max-height: 4; }
    """

    def compose(self) -> ComposeResult:
        self._plot = GutPlot()
        self._toward = Static(toward_text(ConsoleModel()), id="gut-toward")
        yield self._plot
        yield self._toward

    def show(self, model: ConsoleModel) -> None:
        """Redraw the plot and the direction."""
        self._plot.draw(model)
        self._toward.update(toward_text(model, max(20, self.size.width - 2)))
