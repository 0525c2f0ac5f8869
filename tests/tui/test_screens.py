"""The memory browser, turn history + replay viewer, job runs, policy, unlock, themes."""

from __future__ import annotations

from collections.abc import Callable

from cephalon_tui.app import CephalonApp
from cephalon_tui.screens.confirm import ConfirmScreen
from cephalon_tui.screens.jobs import JobsScreen
from cephalon_tui.screens.memory import MemoryScreen
from cephalon_tui.screens.policy import PolicyScreen
from cephalon_tui.screens.replay import ReplayScreen
from cephalon_tui.screens.turns import TurnsScreen
from cephalon_tui.screens.unlock import UnlockScreen
from engine.backend_local import LocalBackend
from engine.clock import FrozenClock
from engine.engine import Engine
from engine.jobs.state import insert_run
from engine.llm.scripted import ScriptedProvider
from tests.tui.conftest import SIZE, ask, screen_text, wait_until
from tests.tui.test_main_panels import TIME_TURN


async def test_memory_browser_searches_explains_pins_and_forgets(
    make_app: Callable[..., CephalonApp], backend: LocalBackend, seeded: list[int]
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "m")
        assert isinstance(app.screen, MemoryScreen)
        screen = app.screen
        screen.search.value = "cat Miso"
        await pilot.press("enter")
        await wait_until(pilot, lambda: screen.hits.row_count > 0)
        text = screen_text(app)
        assert "The operator's cat is called Miso." in text
        assert "bm25 rank" in text and "ann similarity" in text  # the explanation
        first = screen._results[0]
        assert first["id"] == seeded[0]
        await pilot.press("p")  # pin the highlighted memory
        await wait_until(pilot, lambda: bool(screen._results and screen._results[0]["pinned"]))
        assert backend.memory_search("cat Miso")[0]["pinned"] is True
        await pilot.press("f")
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        forgotten = int(first["id"])
        await wait_until(pilot, lambda: all(r["id"] != forgotten for r in screen._results))
        assert all(hit["id"] != forgotten for hit in backend.memory_search("cat Miso"))
        await pilot.press("escape")
        assert app.screen is app.main


async def test_turn_history_opens_the_replay_viewer_and_reruns(
    make_app: Callable[..., CephalonApp], script: ScriptedProvider
) -> None:
    script.push(*TIME_TURN)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "what time is it?")
        await pilot.press("escape", "r")
        assert isinstance(app.screen, TurnsScreen)
        turns = app.screen
        await wait_until(pilot, lambda: turns.table.row_count == 1)
        assert "what time is it?" in screen_text(app) and "committed" in screen_text(app)
        await pilot.press("enter")
        assert isinstance(app.screen, ReplayScreen)
        replay = app.screen
        await wait_until(pilot, lambda: len(replay.stages) == 6)
        assert "what time is it?" in screen_text(app)  # 1 intake
        seen = []
        for _ in range(5):
            await pilot.press("n")
            seen.append(str(replay.scroll.border_title))
        assert seen == ["2 context", "3 prompt", "4 generate", "5 act", "6 commit"]
        text = screen_text(app)
        assert "It is noon, operator." in text and "memories minted" in text
        await pilot.press("b")
        assert "clock.now -> ok" in screen_text(app)  # 5 act
        await pilot.press("x")  # re-run from the recording
        await wait_until(pilot, lambda: replay.result is not None)
        text = screen_text(app)
        assert "recorded re-run matches the recording" in text
        assert "✓ same" in text and "output: no difference" in text
        assert "5 act  ✓" in text and "6 commit  ✓" in text
        await pilot.press("escape")
        assert app.screen is turns


async def test_job_runs_screen_lists_runs(
    make_app: Callable[..., CephalonApp], engine: Engine, clock: FrozenClock
) -> None:
    def seed(cur: object) -> None:
        assert engine.store.writer is not None
        run_id = engine.store.writer.ids.take("job_runs")
        insert_run(cur, run_id, "janitor", clock.now(), "ok", None, {"trigger": "tick"})  # type: ignore[arg-type]

    engine.store.write(seed)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "j")
        assert isinstance(app.screen, JobsScreen)
        jobs = app.screen
        await wait_until(pilot, lambda: jobs.table.row_count >= 1)  # the engine runs jobs too
        text = screen_text(app)
        assert "janitor" in text and " ok " in text and "2026-01-01 12:00:00" in text
        await pilot.press("enter")
        assert "trigger" in screen_text(app)  # the run's detail


async def test_policy_screen_shows_values_and_where_they_came_from(
    make_app: Callable[..., CephalonApp],
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("escape", "o")
        assert isinstance(app.screen, PolicyScreen)
        policy = app.screen
        await wait_until(pilot, lambda: policy.table.row_count > 50)
        total = policy.table.row_count
        policy.filter.value = "engine.tick_seconds"
        await wait_until(pilot, lambda: policy.table.row_count == 1)
        text = screen_text(app)
        assert "engine.tick_seconds" in text and "data/policy.default.toml" in text
        assert f"1 of {total} keys" in text


async def test_unlock_asks_for_minutes_and_unlocks_write_tools(
    make_app: Callable[..., CephalonApp], backend: LocalBackend
) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: "writes locked" in screen_text(app))
        await pilot.press("escape", "u")
        assert isinstance(app.screen, UnlockScreen)
        await pilot.press("backspace", "backspace", "5", "enter")
        assert app.screen is app.main
        await wait_until(pilot, lambda: "writes unlocked to 12:05" in screen_text(app))
        assert backend.status()["unlocked_until"].startswith("2026-01-01T12:05")


async def test_new_chat_clears_the_transcript(make_app: Callable[..., CephalonApp]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ask(pilot, "hello")
        await pilot.press("ctrl+n")
        await pilot.pause(0.2)
        assert [e.role for e in app.model.chat] == ["note"]
        assert "echo: hello" not in screen_text(app)
        assert app.focused is app.main.prompt


async def test_theme_switches_at_run_time_and_palette_lists_the_commands(
    make_app: Callable[..., CephalonApp],
) -> None:
    app = make_app(theme="cephalon-light")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "cephalon-light"
        await pilot.press("escape", "t")
        assert app.theme == "cephalon-contrast"
        await pilot.press("t")
        assert app.theme == "cephalon-dark"
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Pause the engine", "New chat", "Unlock write tools", "Next theme"} <= titles
        assert {"Open memory", "Open turns", "Open jobs", "Open policy"} <= titles
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        for key in "open memory":
            await pilot.press("space" if key == " " else key)
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_until(pilot, lambda: isinstance(app.screen, MemoryScreen))
