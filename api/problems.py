"""Errors as ``application/problem+json`` (RFC 9457), one shape for every failure.

Validation failures carry ``errors: [{path, message}]`` with JSON pointers, exactly as
:class:`bootstrap.errors.RequestInvalid` names them, so the form, the API and ``orgvend vend``
report a bad field the same way.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bootstrap.errors import OrgvendError, RequestInvalid, StreamConflict, StreamNotFound

__all__ = [
    "PROBLEM_TYPE",
    "ApiProblem",
    "install_problem_handlers",
    "problem_response",
    "unauthorised",
]

PROBLEM_TYPE = "application/problem+json"
_REALM = 'Bearer realm="orgvend"'


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str | None = None,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.code = code
        self.errors = errors
        self.headers = headers or {}


def unauthorised(detail: str, *, invalid: bool) -> ApiProblem:
    """401 with the challenge RFC 6750 asks for; ``invalid`` when a token was presented."""
    challenge = f'{_REALM}, error="invalid_token"' if invalid else _REALM
    return ApiProblem(401, detail, code="Unauthorised", headers={"WWW-Authenticate": challenge})


def problem_body(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, str]] | None = None,
    instance: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": f"urn:orgvend:problem:{code}" if code else "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if code:
        body["code"] = code
    if errors is not None:
        body["errors"] = errors
    if instance:
        body["instance"] = instance
    return body


def problem_response(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
    instance: str | None = None,
) -> Response:
    body = problem_body(status, detail, code=code, errors=errors, instance=instance)
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_TYPE)


def problem_for(exc: OrgvendError) -> ApiProblem:
    """The HTTP face of a domain error."""
    if isinstance(exc, RequestInvalid):
        return ApiProblem(422, "The stream request is invalid.", code=exc.code, errors=exc.errors)
    if isinstance(exc, StreamNotFound):
        return ApiProblem(404, exc.message, code=exc.code)
    if isinstance(exc, StreamConflict):
        return ApiProblem(409, exc.message, code=exc.code)
    return ApiProblem(503, f"{exc.message} {exc.advice}".strip(), code=exc.code)


def _pointer(loc: tuple[Any, ...] | list[Any]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in loc)


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiProblem)
        return problem_response(
            exc.status,
            exc.detail,
            code=exc.code,
            errors=exc.errors,
            headers=exc.headers,
            instance=request.url.path,
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"path": _pointer(e.get("loc", ())), "message": str(e.get("msg", "invalid"))}
            for e in exc.errors()
        ]
        return problem_response(
            422, "The request is invalid.", code="RequestInvalid", errors=errors
        )

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        return problem_response(exc.status_code, str(exc.detail), headers=headers)

    async def on_domain(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OrgvendError)
        return await on_problem(request, problem_for(exc))

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(OrgvendError, on_domain)
