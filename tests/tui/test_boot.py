"""Start-up: the console is usable before the engine is ready; failures are shown."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from cephalon_tui.app import CephalonApp
from cephalon_tui.engine_boot import BootProgress, local_connect
from cephalon_tui.screens.policy import PolicyScreen
from engine.backend import ConsoleBackend
from engine.backend_local import LocalBackend
from engine.clock import FrozenClock
from engine.config import load_settings
from engine.engine import Engine
from engine.errors import CephalonError
from engine.llm.scripted import ScriptedProvider
from tests.tui.conftest import POLICY, SIZE, ask, replied, screen_text, send, wait_until


async def test_typing_and_screens_work_while_the_engine_starts(
    isolated_home: Path, clock: FrozenClock
) -> None:
    gate = threading.Event()
    engines: list[Engine] = []

    def connect(progress: BootProgress) -> ConsoleBackend:
        progress("building index", 0.5)
        assert gate.wait(20)
        settings = load_settings().model_copy(update={"embedder": "hashing"})
        script = ScriptedProvider([{"type": "message", "content": "Ready now."}])
        engines.append(Engine(settings, POLICY.policy, provider=script, clock=clock))
        engines[0].start()
        return LocalBackend(engines[0], POLICY)

    app = CephalonApp(connect=connect, show_timings=False, status_seconds=0.2)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "building index ▰▰▰▰▰▱▱▱▱▱  50%" in screen_text(app))
        assert "starting" in screen_text(app)
        await send(pilot, "are you up?")
        await pilot.pause(0.3)
        assert "you are you up?  (queued)" in screen_text(app)
        await pilot.press("escape", "o")  # screens open before the engine is there
        assert isinstance(app.screen, PolicyScreen)
        await pilot.press("escape")
        gate.set()
        await wait_until(pilot, lambda: replied(app))
        await wait_until(pilot, lambda: "running" in screen_text(app))
        assert app.model.chat[-1].text == "Ready now."
        assert app.screen is app.main
    assert engines[0].state == "stopped"  # the app owned the backend and closed it


async def test_an_engine_that_cannot_start_is_reported(isolated_home: Path) -> None:
    def connect(progress: BootProgress) -> ConsoleBackend:
        raise CephalonError("the database is locked by another process")

    app = CephalonApp(connect=connect, show_timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: app.model.engine_state == "failed")
        await pilot.pause(0.2)
        text = screen_text(app)
        assert "the engine could not start" in text
        assert app.model.chat[-1].text.endswith("locked by another process")
        assert "failed" in text
        await send(pilot, "hello?")
        await wait_until(pilot, lambda: app.model.chat[-1].status.startswith("error"))


async def test_local_connect_opens_the_configured_engine(isolated_home: Path) -> None:
    script = isolated_home.parent / "script.json"
    script.write_text(json.dumps([{"type": "message", "content": "From the script file."}]))
    settings = load_settings().model_copy(
        update={"embedder": "hashing", "provider": "scripted", "script_file": script}
    )
    app = CephalonApp(connect=local_connect(settings, POLICY), show_timings=False)
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "hello", timeout=30)
        assert app.model.chat[-1].text == "From the script file."
        await wait_until(pilot, lambda: "/scripted │" in screen_text(app))  # provider/model


def test_app_needs_exactly_one_way_to_reach_an_engine() -> None:
    import pytest

    with pytest.raises(ValueError):
        CephalonApp()
    with pytest.raises(CephalonError, match="unknown theme 'nope'"):

        def connect(progress: BootProgress) -> ConsoleBackend:
            raise AssertionError

        CephalonApp(connect=connect, theme="nope")
