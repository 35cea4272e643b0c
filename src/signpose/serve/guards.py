"""Who may call the server, and how much: other web origins and host names refused (DNS
rebinding), an upload body counted as it arrives."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from fastapi import Request
from fastapi.responses import JSONResponse

from .api import ApiError
from .config import ServeConfig

LOOPBACK = {"localhost", "127.0.0.1", "::1"}
WS_MAX_BYTES = 1 << 20  # one live message: a landmarks message is ~20 KB, a camera JPEG ~100 KB


class SameOrigin:
    """Only this server's own pages (and `allow_origins`) may call it from a browser: a
    request whose Origin is another site is refused, so a page the user visits cannot
    stream to or upload to their local server. Bound to this machine only, the Host must
    be a loopback name too, so DNS rebinding cannot turn another name into this server."""

    def __init__(self, app, config: ServeConfig):
        self.app = app
        self.allowed = {o.rstrip("/").lower() for o in config.allow_origins}
        self.loopback_only = config.host in LOOPBACK

    def problem(self, host: str, origin: str | None) -> str | None:
        name = urlsplit(f"//{host}").hostname or ""
        if self.loopback_only and name not in LOOPBACK:
            return f"this server answers to localhost only, not to the host {host!r}"
        if origin is not None and origin.rstrip("/").lower() not in self.allowed | {
            f"http://{host}".lower(),
            f"https://{host}".lower(),
        }:
            return f"requests from pages of {origin} are not allowed (serve --allow-origins {origin} allows them)"
        return None

    async def __call__(self, scope, receive, send):
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            problem = self.problem(headers.get("host", ""), headers.get("origin"))
            if problem is not None:
                if scope["type"] == "websocket":  # closing before accepting answers 403
                    await send({"type": "websocket.close", "code": 1008, "reason": problem[:120]})
                else:
                    await JSONResponse({"error": problem}, status_code=403)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def bounded(request: Request, limit: int, too_large: ApiError) -> Request:
    """The same request, whose body stops with `too_large` once more than `limit` bytes
    have come (whatever its headers say: a chunked body declares no length)."""
    received = 0

    async def receive():
        nonlocal received
        message = await request.receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large
        return message

    return Request(request.scope, receive)


async def json_object(request: Request, limit: int, what: str, empty: dict | None = None) -> dict:
    """A request body that must be one JSON object of at most `limit` bytes (`empty`: what
    an empty body means, where one is allowed); one-line errors otherwise."""
    body = await bounded(request, limit, ApiError(413, f"{what} is at most {limit // 1024} kB")).body()
    if not body and empty is not None:
        return empty
    try:
        message = json.loads(body)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        raise ApiError(400, f"{what} must be a JSON object")
    return message
