"""The status bar: provider/model, tokens/s, cost, running/paused, queue, memories."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from textual.markup import escape
from textual.widgets import Static

from cephalon_tui.console_model import ConsoleModel

_STATE_STYLE = {
    "running": "$success",
    "paused": "$warning",
    "starting": "$accent",
    "stopping": "$warning",
    "stopped": "$error",
    "failed": "$error",
}


def progress_bar(fraction: float | None, width: int = 10) -> str:
    """A text progress bar (``▰▰▰▱▱``); an unknown fraction shows as dots."""
    if fraction is None:
        return "…"
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return "▰" * filled + "▱" * (width - filled) + f" {fraction:4.0%}"


def _money(value: Any) -> str:
    return f"${float(value):.4f}" if isinstance(value, int | float) else "$—"


def _unlock(until: Any) -> str:
    if not until:
        return "[$text-muted]writes locked[/]"
    try:
        stamp = datetime.fromisoformat(str(until)).strftime("%H:%M")
    except ValueError:
        stamp = str(until)
    return f"[$warning]writes unlocked to {escape(stamp)}[/]"


class StatusBar(Static):
    """One line of engine facts under the panels."""

    DEFAULT_CSS = """
    StatusBar {
        height: 1;
        background: $panel;
        color: $foreground;
        padding: 0 1;
    }
    """

    _line = ""

    def show(self, model: ConsoleModel, show_timings: bool = True) -> None:
        """Render the model's status.

        Args:
            model: the console model.
            show_timings: include tokens/s (off for deterministic snapshots).
        """
        status = model.status
        state = model.engine_state
        parts = [f"[b {_STATE_STYLE.get(state, '$foreground')}]{escape(state)}[/]"]
        if state == "starting":
            detail = escape(model.boot_detail or "starting the engine")
            parts.append(f"{detail} {progress_bar(model.boot_progress)}")
        if status:
            provider = escape(f"{status.get('provider', '?')}/{status.get('model', '?')}")
            parts.append(provider)
            if status.get("model_ready") is False:
                model_state = str(status.get("model_state") or "loading")
                if model_state.startswith("failed"):
                    parts.append(f"[$error]model {escape(model_state)}[/]")
                else:
                    parts.append(f"[$accent]model {escape(model_state)}…[/]")
            rate = status.get("tokens_per_s")
            if show_timings:
                parts.append(f"{rate:.1f} tok/s" if isinstance(rate, int | float) else "— tok/s")
            parts.append(
                f"cost {_money(status.get('cost_session_usd'))} session · "
                f"{_money(status.get('cost_24h_usd'))} 24 h"
            )
            parts.append(f"queue {status.get('queue_depth', '?')}")
            parts.append(f"memories {status.get('memory_count', '?')}")
            parts.append(_unlock(status.get("unlocked_until")))
        line = " │ ".join(parts)
        if line != self._line:  # one line, fixed height: repaint only on change, no layout
            self._line = line
            self.update(line, layout=False)
