"""The outer guard of every response: security headers and the body-size cap.

Plain ASGI rather than ``BaseHTTPMiddleware``: it adds no task or copy per request, which
matters for the submit latency target.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.bodies import MAX_BODY_BYTES, BodyTooLarge
from api.problems import PROBLEM_TYPE, problem_body

__all__ = ["CONTENT_SECURITY_POLICY", "Guard"]

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


class Guard:
    def __init__(self, app: ASGIApp, *, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        declared = headers.get(b"content-length", b"").decode("latin-1").strip()
        if declared.isdigit() and int(declared) > self.max_body:
            await _too_large(send)
            return
        started = False
        cacheable = str(scope.get("path", "")).startswith("/static/")

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                message["headers"] = _with_headers(message.get("headers", []), cacheable)
            await send(message)

        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise BodyTooLarge()
            return message

        try:
            await self.app(scope, counted_receive, guarded_send)
        except BodyTooLarge:
            if started:
                raise
            await _too_large(send)


def _with_headers(headers: Any, cacheable: bool) -> list[tuple[bytes, bytes]]:
    result = list(headers)
    present = {name.lower() for name, _ in result}
    extra = list(_HEADERS)
    if not cacheable:
        extra.append((b"cache-control", b"no-store"))
    result += [(name, value) for name, value in extra if name not in present]
    return result


async def _too_large(send: Send) -> None:
    detail = f"The request body is over {MAX_BODY_BYTES // 1024} KB."
    body = json.dumps(problem_body(413, detail, code="BodyTooLarge")).encode()
    headers = [
        (b"content-type", PROBLEM_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
    ]
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": _with_headers(headers, False),
        }
    )
    await send({"type": "http.response.body", "body": body})
