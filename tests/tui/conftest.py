"""Fixtures for the console tests: a seeded in-process engine with a scripted provider.

Every test drives the real app over the real :class:`LocalBackend`: an engine on a
temp data dir with the hashing embedder, the frozen clock and a scripted provider
(push replies with ``script.push(...)``; when the script runs out it echoes).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from rich.console import Console
from textual.pilot import Pilot

from cephalon_tui.app import CephalonApp
from engine.backend_local import LocalBackend
from engine.clock import FrozenClock
from engine.config import load_policy, load_settings
from engine.engine import Engine
from engine.llm.scripted import ScriptedProvider
from engine.memory.records import NewMemory

POLICY = load_policy()
SIZE = (120, 40)


@pytest.fixture
def script() -> ScriptedProvider:
    """The scripted model (echoes once its replies are used up)."""
    return ScriptedProvider([], echo_when_exhausted=True)


@pytest.fixture
def engine(script: ScriptedProvider, clock: FrozenClock) -> Iterator[Engine]:
    """A started engine on the test's data dir (hashing embedder, seed 0, frozen clock)."""
    settings = load_settings().model_copy(update={"embedder": "hashing", "seed": 0})
    eng = Engine(settings, POLICY.policy, provider=script, clock=clock)
    eng.start()
    yield eng
    eng.close()


SEED_FACTS = (
    "The operator's cat is called Miso.",
    "The operator drinks green tea in the morning.",
    "The garden shed key is under the blue pot.",
)


@pytest.fixture
def seeded(engine: Engine) -> list[int]:
    """Three facts in memory (ids returned), stored through the memory service."""
    assert engine.memory is not None
    return engine.memory.add([NewMemory(kind="fact", content=text) for text in SEED_FACTS])


@pytest.fixture
def backend(engine: Engine) -> LocalBackend:
    """The console backend over the engine."""
    return LocalBackend(engine, POLICY)


@pytest.fixture
def make_app(backend: LocalBackend) -> Callable[..., CephalonApp]:
    """Build the console on the backend (timings hidden, a quick status poll)."""

    def make(**options: Any) -> CephalonApp:
        options.setdefault("show_timings", False)
        options.setdefault("status_seconds", 0.2)
        return CephalonApp(backend, **options)

    return make


def ts(clock: FrozenClock) -> datetime:
    """The frozen time, for signals a test emits itself."""
    return clock.now()


async def wait_until(
    pilot: Pilot[Any], predicate: Callable[[], object], timeout: float = 10.0
) -> None:
    """Let the app run until ``predicate()`` is true.

    Raises:
        AssertionError: it did not become true in time.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {predicate}")
        await pilot.pause(0.05)


async def send(pilot: Pilot[Any], text: str) -> None:
    """Type a message into the prompt (set at once) and press Enter."""
    app = pilot.app
    assert isinstance(app, CephalonApp)
    app.main.prompt.focus()
    app.main.prompt.load_text(text)
    await pilot.press("enter")


async def ask(pilot: Pilot[Any], text: str, timeout: float = 10.0) -> None:
    """:func:`send` a message, then let the app run until a reply is complete in the chat."""
    app = pilot.app
    assert isinstance(app, CephalonApp)
    await send(pilot, text)
    await wait_until(pilot, lambda: replied(app), timeout=timeout)


def replied(app: CephalonApp, count: int = 1) -> bool:
    """True once ``count`` replies are complete in the chat."""
    done = [e for e in app.model.chat if e.role == "cephalon" and not e.streaming]
    return len(done) >= count


def screen_text(app: CephalonApp) -> str:
    """What the terminal would show, as plain text (one line per row)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)


def screen_ansi(app: CephalonApp, color_system: str) -> str:
    """The escape sequences a terminal with ``color_system`` would receive for the screen."""
    console = Console(color_system=color_system, force_terminal=True, width=SIZE[0])  # type: ignore[arg-type]
    update = app.screen._compositor.render_full_update()
    for line in update.strips:  # strips and styles cache codes for one colour system
        for strip in line:
            strip._render_cache = None
            for segment in strip:
                if segment.style is not None:
                    segment.style._ansi = None
    return update.render_segments(console)
