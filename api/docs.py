"""The OpenAPI document: generated routes plus the pieces FastAPI cannot infer.

The stream request body is ``schemas/stream-request.schema.json`` itself, placed in
``components.schemas.StreamRequest``: the API, the form and ``orgvend vend`` validate against
one file. Every error answer is documented as ``application/problem+json``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api.models import LinkOut, Problem
from bootstrap.validation import load_schema

__all__ = ["DECISION_BODY", "STREAM_REQUEST_BODY", "install_openapi", "problems"]

_REF = "#/components/schemas/"
_DESCRIPTIONS = {
    401: "No valid token (see the WWW-Authenticate header).",
    403: "The caller's role is too low for this call.",
    404: "No such stream.",
    409: "Conflicts with the stream as it is.",
    413: "The body is over 64 KB.",
    415: "The body is not application/json.",
    422: "Invalid: `errors` names every field by JSON pointer.",
    503: "A part of the landing zone is missing.",
}

STREAM_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": f"{_REF}StreamRequest"}}},
    }
}
DECISION_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": f"{_REF}Decision"}}},
    }
}
_DECISION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "reason": {
            "type": "string",
            "maxLength": 1000,
            "description": "Why; recorded with who decided and when. Required to reject.",
        }
    },
}


def problems(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {
        code: {
            "description": _DESCRIPTIONS[code],
            "content": {"application/problem+json": {"schema": {"$ref": f"{_REF}Problem"}}},
        }
        for code in codes
    }


def _request_schema() -> dict[str, Any]:
    """The schema file as a component; ``$id`` would re-base every ``$ref`` inside it."""
    return {k: v for k, v in load_schema("stream-request").items() if k != "$id"}


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            components = document.setdefault("components", {}).setdefault("schemas", {})
            problem = Problem.model_json_schema(ref_template=_REF + "{model}")
            components.update(problem.pop("$defs", {}))
            components["Problem"] = problem
            components["LinkOut"] = LinkOut.model_json_schema(ref_template=_REF + "{model}")
            components["StreamRequest"] = _request_schema()
            components["Decision"] = _DECISION_SCHEMA
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
