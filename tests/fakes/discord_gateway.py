"""The gateway half of the fake Discord: one websocket protocol, enough of it to be real.

HELLO (op 10) with the server's heartbeat interval; HEARTBEAT (1) -> ACK (11);
IDENTIFY (2) -> READY + one GUILD_CREATE per guild, or close 4004 for a bad
token; RESUME (6) -> the missed dispatches replayed + RESUMED, or INVALID_SESSION
(op 9, ``d: false``) when the session is unknown or the test says so. Dispatches
carry per-session sequence numbers and are kept in a backlog for resumes.
Everything here runs on the server's event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscordServer

AUTH_FAILED = 4004


@dataclass
class Session:
    """A gateway session (survives a dropped connection until resumed or replaced)."""

    id: str
    seq: int = 0
    backlog: list[dict[str, Any]] = field(default_factory=list)
    ws: web.WebSocketResponse | None = None
    transport: Any = None


class FakeGateway:
    """The gateway websocket endpoint and its sessions."""

    def __init__(self, server: FakeDiscordServer) -> None:
        self.server = server
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.connections = 0
        self.heartbeats = 0
        self.invalidate_resumes = False
        self.sessions: dict[str, Session] = {}

    async def dispatch(self, name: str, data: dict[str, Any]) -> None:
        """Send an event to every session (kept for a resume when disconnected)."""
        for session in list(self.sessions.values()):
            session.seq += 1
            payload = {"op": 0, "t": name, "s": session.seq, "d": data}
            session.backlog.append(payload)
            if session.ws is not None and not session.ws.closed:
                await session.ws.send_str(json.dumps(payload))

    async def drop(self, code: int | None) -> None:
        """Cut every connection: abruptly (None) or with a close code."""
        for session in self.sessions.values():
            ws, transport = session.ws, session.transport
            session.ws = None
            if ws is None:
                continue
            if code is None and transport is not None:
                transport.abort()
            else:
                await ws.close(code=code or 4000, message=b"dropped by test")

    async def close_all(self) -> None:
        """Close every connection (server shutdown)."""
        for session in self.sessions.values():
            if session.ws is not None:
                await session.ws.close(code=1001)
                session.ws = None

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One gateway connection."""
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.connections += 1
        session: Session | None = None
        hello = {"op": 10, "d": {"heartbeat_interval": self.server.heartbeat_interval_ms}}
        await ws.send_str(json.dumps(hello))
        async for frame in ws:
            if frame.type is not WSMsgType.TEXT:
                continue
            packet = json.loads(frame.data)
            op, data = packet.get("op"), packet.get("d")
            if op == 1:
                self.heartbeats += 1
                await ws.send_str(json.dumps({"op": 11}))
            elif op == 2:
                self.identifies.append(data)
                if data.get("token") != self.server.token:
                    await ws.close(code=AUTH_FAILED, message=b"Authentication failed.")
                    break
                session = await self._identify(ws, request)
            elif op == 6:
                self.resumes.append(data)
                session = await self._resume(ws, request, data)
        if session is not None and session.ws is ws:
            session.ws = None
        return ws

    async def _identify(self, ws: web.WebSocketResponse, request: web.Request) -> Session:
        server = self.server
        session = Session(server.ids.next(), seq=1, ws=ws, transport=request.transport)
        self.sessions = {session.id: session}  # a new identify replaces the old session
        ready = {
            "v": 10,
            "user": server.bot,
            "guilds": [{"id": g.id, "unavailable": True} for g in server.guilds],
            "session_id": session.id,
            "resume_gateway_url": server.gateway_url,
            "application": {"id": server.bot["id"], "flags": 0},
            "private_channels": [],
            "relationships": [],
        }
        await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": ready}))
        for guild in server.guilds:
            await self.dispatch("GUILD_CREATE", guild.as_json(server.bot))
        return session

    async def _resume(
        self, ws: web.WebSocketResponse, request: web.Request, data: dict[str, Any]
    ) -> Session | None:
        if data.get("token") != self.server.token:
            await ws.close(code=AUTH_FAILED, message=b"Authentication failed.")
            return None
        session_id = str(data.get("session_id"))
        session = self.sessions.get(session_id)
        if session is None or self.invalidate_resumes:
            self.sessions.pop(session_id, None)
            await ws.send_str(json.dumps({"op": 9, "d": False}))
            return None
        session.ws, session.transport = ws, request.transport
        seen = int(data.get("seq") or 0)
        for payload in session.backlog:
            if payload["s"] > seen:
                await ws.send_str(json.dumps(payload))
        await self.dispatch("RESUMED", {})
        return session
