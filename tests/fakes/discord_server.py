"""A fake Discord (REST + gateway) on 127.0.0.1 that the real discord.py client talks to.

Usage::

    with FakeDiscordServer(token="good") as fake:
        monkeypatch.setattr(discord.http.Route, "BASE", fake.api_base)
        monkeypatch.setattr(discord.gateway.DiscordWebSocket, "DEFAULT_GATEWAY",
                            yarl.URL(fake.gateway_url))
        ...  # start a client with token "good"
        fake.push_message(fake.channel_id("general"), "hello", author="alice")
        fake.rate_limit_next(2, retry_after=0.3, method="POST")
        fake.drop_gateway()

It runs an aiohttp app on its own event loop in a background thread. The gateway
speaks enough of the real protocol: HELLO (op 10) with a short heartbeat
interval, HEARTBEAT/ACK (1/11), IDENTIFY (2) -> READY + GUILD_CREATE, RESUME (6)
-> missed events replayed + RESUMED (or INVALID_SESSION, op 9, when told),
MESSAGE_CREATE/UPDATE/DELETE dispatches with sequence numbers, and close code
4004 for a bad token. REST answers what the client needs (``/users/@me``,
``/oauth2/applications/@me``, ``/gateway/bot``, guild channels, message history
with ``limit``/``before``/``after``, send, delete) with ``X-RateLimit-*``
headers, and 429 with ``Retry-After`` + JSON ``retry_after`` when told.
Everything is recorded for assertions.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import zlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes.discord_gateway import FakeGateway
from tests.fakes.discord_payloads import (
    FakeChannel,
    FakeGuild,
    Snowflakes,
    message,
    user,
)
from tests.fakes.discord_rest import RateLimitRule, RestLog, RestRequest


class FakeDiscordServer:
    """A Discord REST + gateway fake in a background thread."""

    def __init__(
        self,
        token: str = "good-token",
        *,
        heartbeat_interval_ms: int = 200,
        guild_name: str = "Test Guild",
        channel_names: tuple[str, ...] = ("general", "memes"),
    ) -> None:
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.ids = Snowflakes()
        self.bot = user(self.ids.next(), "cephalon", bot=True)
        self.guilds: list[FakeGuild] = []
        self.add_guild(guild_name, channel_names)
        self.gateway = FakeGateway(self)
        self.rest = RestLog()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-discord", daemon=True)
        self.port = 0

    # -- lifecycle ----------------------------------------------------------------------

    def start(self) -> FakeDiscordServer:
        """Start serving; returns once the port is bound."""
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("fake discord did not start")
        return self

    def stop(self) -> None:
        """Close every gateway connection and stop the server."""
        if self._loop is None:
            return
        asyncio.run_coroutine_threadsafe(self.gateway.close_all(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def __enter__(self) -> FakeDiscordServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_base(self) -> str:
        """What ``discord.http.Route.BASE`` must be."""
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway_url(self) -> str:
        """What ``DiscordWebSocket.DEFAULT_GATEWAY`` must be."""
        return f"ws://127.0.0.1:{self.port}/gw"

    # -- world --------------------------------------------------------------------------

    def add_guild(self, name: str, channel_names: tuple[str, ...]) -> FakeGuild:
        """Add a guild with text channels (before the client connects)."""
        guild = FakeGuild(self.ids.next(), name)
        for position, channel_name in enumerate(channel_names):
            guild.channels.append(FakeChannel(self.ids.next(), guild.id, channel_name, position))
        self.guilds.append(guild)
        return guild

    @property
    def guild_id(self) -> str:
        """The first guild's id."""
        return self.guilds[0].id

    def channel_id(self, name: str) -> str:
        """The id of a channel by name (any guild)."""
        return next(c.id for g in self.guilds for c in g.channels if c.name == name)

    def find_channel(self, channel_id: str) -> FakeChannel | None:
        """A channel by id (any guild)."""
        return next((c for g in self.guilds for c in g.channels if c.id == channel_id), None)

    def seed(
        self, channel_id: str, texts: list[tuple[str, str]], *, bots: frozenset[str] = frozenset()
    ) -> list[str]:
        """Store messages silently (no gateway event), oldest first.

        Args:
            channel_id: where.
            texts: (author name, content) pairs.
            bots: author names that are bots.

        Returns:
            The new message ids.
        """
        channel = self.find_channel(channel_id)
        assert channel is not None
        ids = []
        for author, content in texts:
            data = message(self.ids.next(), channel, self._user(author, author in bots), content)
            channel.messages.append(data)
            ids.append(data["id"])
        return ids

    def _user(self, name: str, bot: bool) -> dict[str, Any]:
        return user(str(10**17 + zlib.crc32(name.encode())), name, bot=bot)  # stable per name

    def push_message(
        self, channel_id: str, content: str, *, author: str = "alice", bot: bool = False
    ) -> str:
        """Store a message and dispatch MESSAGE_CREATE; returns its id."""
        channel = self.find_channel(channel_id)
        assert channel is not None
        data = message(self.ids.next(), channel, self._user(author, bot), content)
        channel.messages.append(data)
        self._run(self.gateway.dispatch("MESSAGE_CREATE", data))
        return str(data["id"])

    def push_edit(self, channel_id: str, message_id: str, content: str) -> None:
        """Change a message and dispatch MESSAGE_UPDATE (a full message, as Discord does)."""
        channel = self.find_channel(channel_id)
        assert channel is not None
        for index, data in enumerate(channel.messages):
            if data["id"] == message_id:
                updated = message(message_id, channel, data["author"], content, edited=True)
                channel.messages[index] = updated
                self._run(self.gateway.dispatch("MESSAGE_UPDATE", updated))
                return
        raise KeyError(message_id)

    def push_delete(self, channel_id: str, message_id: str) -> None:
        """Remove a message and dispatch MESSAGE_DELETE."""
        self._run(self.delete_message(channel_id, message_id))

    def drop_gateway(self, code: int | None = None) -> None:
        """Cut every gateway connection: abruptly (None) or with a close code."""
        self._run(self.gateway.drop(code))

    def rate_limit_next(
        self,
        count: int,
        *,
        retry_after: float = 0.25,
        method: str | None = None,
        path_contains: str | None = None,
        is_global: bool = False,
    ) -> None:
        """Answer the next ``count`` matching REST requests with 429 (``Retry-After``,
        JSON ``retry_after``, ``X-RateLimit-*``)."""
        self.rest.add_rule(RateLimitRule(count, retry_after, method, path_contains, is_global))

    # -- what happened ------------------------------------------------------------------

    def requests(self, method: str | None = None, path_contains: str = "") -> list[RestRequest]:
        """REST requests received, in order, optionally filtered."""
        return self.rest.requests(method, path_contains)

    @property
    def identifies(self) -> list[dict[str, Any]]:
        """IDENTIFY payloads received (op 2), in order."""
        return self.gateway.identifies

    @property
    def resumes(self) -> list[dict[str, Any]]:
        """RESUME payloads received (op 6), in order."""
        return self.gateway.resumes

    @property
    def heartbeats(self) -> int:
        """HEARTBEATs received (op 1)."""
        return self.gateway.heartbeats

    @property
    def invalidate_resumes(self) -> bool:
        """Answer every RESUME with INVALID_SESSION (the client must identify again)."""
        return self.gateway.invalidate_resumes

    @invalidate_resumes.setter
    def invalidate_resumes(self, value: bool) -> None:
        self.gateway.invalidate_resumes = value

    @property
    def logins(self) -> int:
        """``GET /users/@me`` calls (discord.py's login)."""
        return len(self.requests("GET", "/users/@me"))

    def posted(self, channel_id: str | None = None) -> list[dict[str, Any]]:
        """Messages the bot posted, oldest first."""
        bot_id = self.bot["id"]
        return [
            m
            for guild in self.guilds
            for channel in guild.channels
            if channel_id in (None, channel.id)
            for m in channel.messages
            if m["author"]["id"] == bot_id
        ]

    @property
    def deleted(self) -> list[tuple[str, str]]:
        """(channel id, message id) of REST deletes."""
        return self.rest.deleted()

    def wait_until(self, check: Callable[[], bool], timeout: float = 5.0) -> bool:
        """Poll ``check`` until true or the timeout; returns the last value."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return True
            time.sleep(0.01)
        return check()

    # -- server internals ---------------------------------------------------------------

    def _run(self, coro: Any) -> Any:
        assert self._loop is not None, "start the server first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(5)

    def _serve(self) -> None:
        from tests.fakes.discord_routes import build_app

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._runner = web.AppRunner(build_app(self), shutdown_timeout=0.5)
        loop.run_until_complete(self._runner.setup())
        loop.run_until_complete(web.SockSite(self._runner, sock).start())
        self._started.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self._runner.cleanup())
            loop.close()

    async def delete_message(self, channel_id: str, message_id: str) -> bool:
        """Remove a message and dispatch MESSAGE_DELETE; False when unknown."""
        channel = self.find_channel(channel_id)
        if channel is None:
            return False
        before = len(channel.messages)
        channel.messages = [m for m in channel.messages if m["id"] != message_id]
        if len(channel.messages) == before:
            return False
        data = {"id": message_id, "channel_id": channel_id, "guild_id": channel.guild_id}
        await self.gateway.dispatch("MESSAGE_DELETE", data)
        return True

    def bot_message(self, channel: FakeChannel, content: str) -> dict[str, Any]:
        """Store a message posted by the bot (REST send) and return it."""
        data = message(self.ids.next(), channel, self.bot, content)
        channel.messages.append(data)
        return data
