"""Snapshots (120x40) of the main screen after a turn and of the replay viewer after a
re-run: seeded engine, scripted model, frozen clock, timings hidden.

Update them with ``pytest tests/tui/test_snapshots.py --snapshot-update`` after an
intended change, and look at the SVGs in ``__snapshots__`` before committing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from cephalon_tui.app import CephalonApp
from cephalon_tui.screens.replay import ReplayScreen
from cephalon_tui.screens.turns import TurnsScreen
from engine.llm.scripted import ScriptedProvider
from tests.tui.conftest import SIZE, ask, wait_until
from tests.tui.test_main_panels import TIME_TURN


async def _one_turn(pilot: Pilot[Any]) -> CephalonApp:
    app = pilot.app
    assert isinstance(app, CephalonApp)
    await ask(pilot, "what time is it?")
    await wait_until(pilot, lambda: app.model.status.get("turns") == 1)
    await wait_until(pilot, lambda: app.main.tools.row_count == 2)
    await wait_until(pilot, lambda: app.bridge.pending == 0)
    await wait_until(pilot, lambda: not app.panels_waiting)
    await pilot.pause(0.3)
    return app


def _still(app: CephalonApp) -> None:
    """No blinking cursor, no toasts: the focus moves from the prompt to the tool log
    (the footer then shows the panel keys)."""
    app.main.tools.focus()
    app.clear_notifications()


def test_main_screen_after_a_turn(
    snap_compare: Callable[..., bool],
    make_app: Callable[..., CephalonApp],
    script: ScriptedProvider,
    seeded: list[int],
) -> None:
    script.push(*TIME_TURN)

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await _one_turn(pilot)
        _still(app)
        await pilot.pause(0.2)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_replay_viewer_after_a_rerun(
    snap_compare: Callable[..., bool],
    make_app: Callable[..., CephalonApp],
    script: ScriptedProvider,
    seeded: list[int],
) -> None:
    script.push(*TIME_TURN)

    async def run_before(pilot: Pilot[Any]) -> None:
        app = await _one_turn(pilot)
        await pilot.press("escape", "r")
        turns = app.screen
        assert isinstance(turns, TurnsScreen)
        await wait_until(pilot, lambda: turns.table.row_count == 1)
        await pilot.press("enter")
        replay = app.screen
        assert isinstance(replay, ReplayScreen)
        await wait_until(pilot, lambda: len(replay.stages) == 6)
        await pilot.press("x")
        await wait_until(pilot, lambda: replay.result is not None)
        await pilot.pause(0.2)
        _still(app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)
