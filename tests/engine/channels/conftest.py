"""Fixtures for channel tests: a fake Discord on 127.0.0.1 and channels pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.channels.discord_channel import DiscordChannel
from engine.channels.discord_token import SecretToken
from engine.channels.discord_tools import register_discord_tools
from engine.clock import FrozenClock
from engine.config import load_policy
from engine.memory.embed import HashingEmbedder
from engine.memory.service import MemoryService
from engine.policy import Policy
from engine.policy.runtime import DiscordSection
from engine.signals import SignalBus
from engine.store import Store
from engine.tools import Scope, ToolRegistry, ToolRuntime
from tests.fakes.discord_server import FakeDiscordServer

TOKEN = "fake-bot-token.abc123.secretpart"


@pytest.fixture
def fake_discord(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDiscordServer]:
    """A fake Discord; discord.py's REST base and gateway URL point at it."""
    discord = pytest.importorskip("discord")
    import yarl

    with FakeDiscordServer(token=TOKEN, heartbeat_interval_ms=200) as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(
            discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY", yarl.URL(fake.gateway_url)
        )
        yield fake


def discord_policy(fake: FakeDiscordServer, **changes: Any) -> DiscordSection:
    """The default ``[discord]`` section, allowlisting the fake's guild, tuned for speed."""
    section = load_policy().policy.discord
    reconnect = section.reconnect.model_copy(
        update={"backoff_initial_seconds": 0.05, "backoff_max_seconds": 0.2}
        | changes.pop("reconnect", {})
    )
    summary = section.summary.model_copy(update=changes.pop("summary", {}))
    update = {
        "guild_allowlist": [fake.guild_id],
        "guild_ready_timeout_seconds": 0.05,
        "ready_timeout_seconds": 10.0,
        "request_timeout_seconds": 15.0,
        "reidentify_delay_seconds": 0.05,
        "reconnect": reconnect,
        "summary": summary,
    }
    return section.model_copy(update=update | changes)


def policy_with(section: DiscordSection, **tools_budget: int) -> Policy:
    """The default policy with this discord section and budget overrides."""
    policy = load_policy().policy
    budget = policy.tools.budget.model_copy(update=tools_budget)
    tools = policy.tools.model_copy(update={"budget": budget})
    return policy.model_copy(update={"discord": section, "tools": tools})


@pytest.fixture
def store(tmp_path: Path, clock: FrozenClock) -> Iterator[Store]:
    with Store(tmp_path / "db.duckdb", clock=clock) as s:
        yield s


MakeChannel = Callable[..., DiscordChannel]


@pytest.fixture
def make_channel(
    fake_discord: FakeDiscordServer, store: Store, clock: FrozenClock
) -> Iterator[MakeChannel]:
    """Build Discord channels against the fake (stopped at teardown)."""
    made: list[DiscordChannel] = []

    def make(token: str = TOKEN, **changes: Any) -> DiscordChannel:
        section = discord_policy(fake_discord, **changes)
        channel = DiscordChannel(SecretToken(token, "test"), section, store=store, clock=clock)
        made.append(channel)
        return channel

    yield make
    for channel in made:
        channel.stop()


@pytest.fixture
def memory(store: Store, clock: FrozenClock, tmp_path: Path) -> Iterator[MemoryService]:
    """An opened memory service with the instant hashing embedder."""
    service = MemoryService(store, HashingEmbedder(), load_policy().policy, clock, tmp_path / "ix")
    service.open()
    yield service
    service.close()


@pytest.fixture
def make_runtime(store: Store, clock: FrozenClock) -> Iterator[Callable[..., ToolRuntime]]:
    """Tool runtimes with the discord tools; ``channel`` becomes the ``discord`` service."""
    made: list[ToolRuntime] = []

    def make(
        policy: Policy, channel: object, *, unlock: bool = True, minutes: float = 60
    ) -> ToolRuntime:
        registry = ToolRegistry()
        register_discord_tools(registry, policy.discord)
        runtime = ToolRuntime(
            registry, store, clock, policy.tools, SignalBus(), services={"discord": channel}
        )
        if unlock:
            runtime.unlock([Scope.EXTERNAL], minutes=minutes)
        made.append(runtime)
        return runtime

    yield make
    for runtime in made:
        runtime.close()
