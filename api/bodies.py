"""Request bodies read defensively: a size cap, the right media type, then JSON.

The cap is checked twice: from ``Content-Length`` before anything is read (by
:class:`api.middleware.Guard`), and while reading, for a body sent without a length.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from api.problems import ApiProblem

__all__ = ["MAX_BODY_BYTES", "BodyTooLarge", "json_body", "read_body"]

MAX_BODY_BYTES = 64 * 1024


class BodyTooLarge(Exception):
    """Raised while reading a body past :data:`MAX_BODY_BYTES`; answered with 413."""


def too_large() -> ApiProblem:
    return ApiProblem(
        413, f"The request body is over {MAX_BODY_BYTES // 1024} KB.", code="BodyTooLarge"
    )


async def read_body(request: Request) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json"


async def json_body(request: Request, *, required: bool) -> Any:
    """The parsed JSON body; ``None`` when it is optional and absent."""
    body = await read_body(request)
    if not body.strip() and not required:
        return None
    if not _is_json(request.headers.get("content-type", "")):
        raise ApiProblem(
            415, "Send the body as `Content-Type: application/json`.", code="UnsupportedMediaType"
        )
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ApiProblem(
            422,
            "The body is not valid JSON.",
            code="RequestInvalid",
            errors=[{"path": "", "message": f"not valid JSON: {exc}"}],
        ) from exc
