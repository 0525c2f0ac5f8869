"""The REST routes of the fake Discord (see ``tests.fakes.discord_server``)."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.fakes.discord_payloads import application
from tests.fakes.discord_rest import RestRequest

if TYPE_CHECKING:
    from tests.fakes.discord_server import FakeDiscordServer

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # discord.py parses JSON only when Content-Type is exactly "application/json".
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    return web.Response(body=json.dumps(payload).encode(), status=status, headers=all_headers)


def _limit_headers(request: web.Request) -> dict[str, str]:
    route = f"{request.method} {request.match_info.route.resource.canonical}"  # type: ignore[union-attr]
    return {
        "X-RateLimit-Limit": "50",
        "X-RateLimit-Remaining": "49",
        "X-RateLimit-Reset-After": "1.0",
        "X-RateLimit-Bucket": hashlib.md5(route.encode()).hexdigest()[:12],
    }


def build_app(fake: FakeDiscordServer) -> web.Application:
    """The aiohttp app: REST under ``/api/v10`` and the gateway at ``/gw``."""

    @web.middleware
    async def rest(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == "/gw":
            return await handler(request)
        body = None
        raw = await request.read()
        if raw and request.content_type == "application/json":
            body = json.loads(raw)
        recorded = dict(
            method=request.method,
            path=request.path,
            query=dict(request.query),
            body=body,
            authorization=request.headers.get("Authorization"),
            at=time.monotonic(),
        )
        if request.headers.get("Authorization") != f"Bot {fake.token}":
            fake.rest.record(RestRequest(**recorded, status=401))
            return _json({"message": "401: Unauthorized", "code": 0}, 401)
        limit = fake.rest.take_rate_limit(request.method, request.path)
        if limit is not None:
            fake.rest.record(RestRequest(**recorded, status=429))
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, round(limit.retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset-After": str(limit.retry_after),
                "X-RateLimit-Scope": "global" if limit.is_global else "user",
            }
            if limit.is_global:
                headers["X-RateLimit-Global"] = "true"
            payload = {
                "message": "You are being rate limited.",
                "retry_after": limit.retry_after,
                "global": limit.is_global,
            }
            return _json(payload, 429, headers)
        response = await handler(request)
        fake.rest.record(RestRequest(**recorded, status=response.status))
        if response.status < 300:
            response.headers.update(_limit_headers(request))
        return response

    async def me(_request: web.Request) -> web.Response:
        return _json(fake.bot)

    async def app_info(_request: web.Request) -> web.Response:
        return _json(application(fake.bot["id"], fake.bot))

    async def gateway_info(_request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return _json({"url": fake.gateway_url, "shards": 1, "session_start_limit": limit})

    async def guild_channels(request: web.Request) -> web.Response:
        for guild in fake.guilds:
            if guild.id == request.match_info["guild_id"]:
                return _json([channel.as_json() for channel in guild.channels])
        return _json({"message": "Unknown Guild", "code": 10004}, 404)

    async def get_channel(request: web.Request) -> web.Response:
        channel = fake.find_channel(request.match_info["channel_id"])
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        return _json(channel.as_json())

    async def history(request: web.Request) -> web.Response:
        channel = fake.find_channel(request.match_info["channel_id"])
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        limit = min(max(int(request.query.get("limit", "50")), 1), 100)
        newest_first = list(reversed(channel.messages))
        if "before" in request.query:
            before = int(request.query["before"])
            page = [m for m in newest_first if int(m["id"]) < before][:limit]
        elif "after" in request.query:
            after = int(request.query["after"])
            page = [m for m in newest_first if int(m["id"]) > after][-limit:]
        else:
            page = newest_first[:limit]
        return _json(page)

    async def send(request: web.Request) -> web.Response:
        channel = fake.find_channel(request.match_info["channel_id"])
        if channel is None:
            return _json({"message": "Unknown Channel", "code": 10003}, 404)
        raw = await request.read()  # cached: the middleware read it first
        content = (json.loads(raw) if raw else {}).get("content") or ""
        if not content or len(content) > 2000:
            error = {
                "message": "Invalid Form Body",
                "code": 50035,
                "errors": {"content": "Must be 2000 or fewer in length."},
            }
            return _json(error, 400)
        data = fake.bot_message(channel, content)
        await fake.gateway.dispatch("MESSAGE_CREATE", data)
        return _json(data)

    async def delete(request: web.Request) -> web.Response:
        channel_id, message_id = request.match_info["channel_id"], request.match_info["message_id"]
        if not await fake.delete_message(channel_id, message_id):
            return _json({"message": "Unknown Message", "code": 10008}, 404)
        fake.rest.note_deleted(channel_id, message_id)
        return web.Response(status=204)

    app = web.Application(middlewares=[rest])
    api = "/api/v10"
    app.router.add_get("/gw", fake.gateway.handle)
    app.router.add_get(f"{api}/users/@me", me)
    app.router.add_get(f"{api}/oauth2/applications/@me", app_info)
    app.router.add_get(f"{api}/gateway", gateway_info)
    app.router.add_get(f"{api}/gateway/bot", gateway_info)
    app.router.add_get(f"{api}/guilds/{{guild_id}}/channels", guild_channels)
    app.router.add_get(f"{api}/channels/{{channel_id}}", get_channel)
    app.router.add_get(f"{api}/channels/{{channel_id}}/messages", history)
    app.router.add_post(f"{api}/channels/{{channel_id}}/messages", send)
    app.router.add_delete(f"{api}/channels/{{channel_id}}/messages/{{message_id}}", delete)
    return app
