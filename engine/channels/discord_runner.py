"""Runs the discord.py client on a private thread and event loop, and keeps it running.

``start`` returns once the gateway is ready, or raises one clear error. A dropped
gateway is resumed by discord.py itself; when a client gives up (Discord
unreachable, an unresumable close), a new one is started after a backoff, up to
``discord.reconnect.attempts`` times in a row. A rejected token or a missing
privileged intent is never retried. ``call`` runs a coroutine on the client's
loop from any thread, bounded by ``discord.request_timeout_seconds``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

import structlog

from engine.channels import discord_client as dc
from engine.channels.discord_token import SecretToken
from engine.channels.errors import ChannelError, DiscordUnavailableError
from engine.policy.runtime import DiscordSection

log = structlog.get_logger("cephalon.discord")
T = TypeVar("T")


class EventSink(Protocol):
    """Receives the client's message events (on the client's loop)."""

    async def on_message(self, message: Any) -> None:
        """MESSAGE_CREATE."""
        ...

    async def on_edit(self, raw: Any) -> None:
        """MESSAGE_UPDATE."""
        ...

    async def on_delete(self, raw: Any) -> None:
        """MESSAGE_DELETE."""
        ...


class ClientRunner:
    """One discord.py client at a time, supervised (see the module docstring)."""

    def __init__(self, token: SecretToken, policy: DiscordSection, sink: EventSink) -> None:
        self._token = token
        self.policy = policy
        self._sink = sink
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._wake: asyncio.Event | None = None
        self._ready = threading.Event()
        self._settled = threading.Event()
        self._stopping = threading.Event()
        self._failure: ChannelError | None = None
        self._connected_once = False
        self.self_id: int | None = None
        """The bot's user id, once ready."""
        self.counts = {"ready": 0, "resumed": 0, "disconnects": 0, "restarts": 0}
        self.state = "stopped"
        """``stopped``, ``starting``, ``ready``, ``reconnecting`` or ``failed``."""
        self.last_error: str | None = None

    def start(self) -> None:
        """Start the client thread and wait until ready.

        Raises:
            DiscordAuthError: the token was rejected; nothing is retried.
            DiscordIntentsError: the message content intent is not enabled.
            DiscordUnavailableError: not ready in time, or after every reconnect attempt.
            ChannelError: already started, or discord.py is not installed.
        """
        if self._thread is not None:
            raise ChannelError("the Discord channel is already started")
        dc.import_discord()  # fail here, clearly, when the extra is missing
        self._failure, self.last_error = None, None
        for flag in (self._ready, self._settled, self._stopping):
            flag.clear()
        self.state = "starting"
        self._thread = threading.Thread(target=self._thread_main, name="cephalon-discord")
        self._thread.daemon = True
        self._thread.start()
        timeout = self.policy.ready_timeout_seconds
        self._settled.wait(timeout)
        failure = self._failure
        if failure is None and not self._ready.is_set():
            detail = f" (last error: {self.last_error})" if self.last_error else ""
            failure = DiscordUnavailableError(f"Discord was not ready within {timeout:g}s{detail}")
        if failure is not None:
            self.stop()
            self.state = "failed"
            raise failure

    def stop(self) -> None:
        """Close the client and join its thread. Idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # RuntimeError: the loop already ended
                loop.call_soon_threadsafe(wake.set)  # the supervisor closes the client
        thread.join(self.policy.request_timeout_seconds)
        self._thread, self._client = None, None
        self._ready.clear()
        if self.state != "failed":
            self.state = "stopped"

    def call(self, what: str, make: Callable[[Any], Coroutine[Any, Any, T]]) -> T:
        """Run ``make(client)`` on the client's loop and wait for its result.

        Args:
            what: the operation, for error messages ("send to 123").
            make: builds the coroutine from the client.

        Returns:
            What the coroutine returned.

        Raises:
            ChannelError: not connected, timed out, or Discord refused (one line, redacted).
        """
        loop, client = self._loop, self._client
        if loop is None or client is None or not self._ready.is_set():
            raise ChannelError(
                f"cannot {what}: the Discord channel is not connected ({self.state})"
            )
        timeout = self.policy.request_timeout_seconds
        try:
            future = asyncio.run_coroutine_threadsafe(make(client), loop)
        except RuntimeError as exc:
            raise ChannelError(f"cannot {what}: the Discord channel stopped") from exc
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError as exc:
            future.cancel()
            raise ChannelError(f"Discord did not answer within {timeout:g}s ({what})") from exc
        except Exception as exc:
            raise dc.request_error(exc, self._token, what) from exc

    # -- the client thread --------------------------------------------------------------

    def _thread_main(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        try:
            loop.run_until_complete(self._supervise())
        except Exception as exc:  # a bug, not a connection problem: say so and stop
            self._fail(ChannelError(self._token.redact(f"Discord channel crashed: {exc!r}")))
        finally:
            self._loop = None
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _supervise(self) -> None:
        self._wake = asyncio.Event()
        attempt = 0
        while not self._stopping.is_set():
            client = dc.build_client(self, self.policy)
            self._client = client
            self._connected_once = False
            error = await self._run_client(client)
            if self._stopping.is_set():
                return
            fatal = dc.fatal_error(error, self._token) if error is not None else None
            if fatal is not None:
                self._fail(fatal)
                return
            attempt = 1 if self._connected_once else attempt + 1
            self._ready.clear()  # calls fail fast ("not connected") until the next READY
            error = error or ConnectionError("the gateway closed the connection")
            self.last_error = self._token.redact(f"{type(error).__name__}: {error}")
            if attempt > self.policy.reconnect.attempts:
                self._fail(DiscordUnavailableError(f"Discord unreachable: {self.last_error}"))
                return
            self.counts["restarts"] += 1
            self.state = "reconnecting"
            reconnect = self.policy.reconnect
            delay = min(
                reconnect.backoff_initial_seconds * 2 ** (attempt - 1),
                reconnect.backoff_max_seconds,
            )
            log.warning("discord.restart", attempt=attempt, delay_s=delay, error=self.last_error)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), delay)

    async def _run_client(self, client: Any) -> BaseException | None:
        """Run one client until it ends or stop() is called; returns what it raised."""
        assert self._wake is not None
        running = asyncio.ensure_future(client.start(self._token.reveal(), reconnect=True))
        stopping = asyncio.ensure_future(self._wake.wait())
        await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not client.is_closed():
            await client.close()
        try:
            await running
        except Exception as exc:
            return exc
        return None

    def _fail(self, error: ChannelError) -> None:
        self._failure = error
        self.last_error = str(error)
        self.state = "failed"
        log.error("discord.failed", error=str(error))
        self._settled.set()

    # -- client hooks (on the client's loop) --------------------------------------------

    def on_ready(self, self_id: int | None) -> None:
        """A session is ready (first connect, or after a re-identify)."""
        self.self_id = self_id
        self._connected_once = True
        self.counts["ready"] += 1
        self.state = "ready"
        log.info("discord.ready", guilds=len(self._client.guilds) if self._client else 0)
        self._ready.set()
        self._settled.set()

    def on_resumed(self) -> None:
        """A dropped session was resumed."""
        self.counts["resumed"] += 1
        self.state = "ready"
        log.info("discord.resumed")

    def on_disconnected(self) -> None:
        """The gateway connection was lost; discord.py is reconnecting."""
        self.counts["disconnects"] += 1
        if self.state == "ready":
            self.state = "reconnecting"
        log.info("discord.disconnected")

    async def on_message(self, message: Any) -> None:
        """MESSAGE_CREATE, passed to the sink."""
        await self._sink.on_message(message)

    async def on_edit(self, raw: Any) -> None:
        """MESSAGE_UPDATE, passed to the sink."""
        await self._sink.on_edit(raw)

    async def on_delete(self, raw: Any) -> None:
        """MESSAGE_DELETE, passed to the sink."""
        await self._sink.on_delete(raw)
