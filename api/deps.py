"""Who is calling, as FastAPI dependencies: one per least role an endpoint needs.

A caller is found, in order, by the role source's own platform check (API Gateway IAM auth in
the AWS deployment), a bearer token, or the pages' session cookie. A cookie is sent by the
browser on its own, so a state-changing call that rides on it must also show the session's
CSRF token; a bearer token or a platform identity cannot be sent by a hostile page.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from api.auth import Principal, Role
from api.context import AppContext
from api.problems import ApiProblem, unauthorised
from api.sessions import CSRF_HEADER, SESSION_COOKIE, PageSession, same_token

__all__ = [
    "UNSAFE_METHODS",
    "Caller",
    "PageForbidden",
    "SignInRequired",
    "api_caller",
    "context_of",
    "identify",
    "page_caller",
]

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Caller:
    principal: Principal
    session: PageSession | None = None
    """Set when the caller came by session cookie: then unsafe calls need its CSRF token."""


class SignInRequired(Exception):
    """A page was asked for without a session: the browser is sent to the sign-in form."""


class PageForbidden(Exception):
    def __init__(self, caller: Caller, role: Role) -> None:
        super().__init__(f"needs {role.label}")
        self.caller = caller
        self.role = role


def context_of(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


def identify(request: Request) -> Caller | None:
    ctx = context_of(request)
    principal = ctx.roles.from_connection(request)
    if principal is not None:
        return Caller(principal)
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorised("Send the token as `Authorization: Bearer <token>`.", invalid=True)
        principal = ctx.roles.from_token(token.strip())
        if principal is None:
            raise unauthorised("The bearer token is not valid.", invalid=True)
        return Caller(principal)
    session = ctx.sessions.read(request.cookies.get(SESSION_COOKIE))
    return Caller(session.principal, session) if session is not None else None


def _forbidden(caller: Caller, role: Role) -> ApiProblem:
    who = caller.principal
    return ApiProblem(
        403,
        f"This needs the {role.label} role; {who.name} has {who.role.label}.",
        code="Forbidden",
    )


def _check_csrf_header(request: Request, session: PageSession) -> None:
    if not same_token(request.headers.get(CSRF_HEADER), session.csrf):
        raise ApiProblem(
            403,
            "A call made with the session cookie must carry its X-CSRF-Token header.",
            code="CsrfTokenMissing",
        )


def api_caller(role: Role) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency: the caller, who must hold at least ``role`` (401/403 problems otherwise)."""

    async def dependency(request: Request) -> Caller:
        caller = identify(request)
        if caller is None:
            raise unauthorised(
                "Authentication required: send `Authorization: Bearer <token>`.", invalid=False
            )
        if not caller.principal.may(role):
            raise _forbidden(caller, role)
        if caller.session is not None and request.method in UNSAFE_METHODS:
            _check_csrf_header(request, caller.session)
        return caller

    return dependency


def page_caller(role: Role) -> Callable[[Request], Awaitable[Caller]]:
    """Dependency for pages: no caller means the sign-in form, too little role a 403 page.

    CSRF is checked by each form handler, which has the form's fields.
    """

    async def dependency(request: Request) -> Caller:
        try:
            caller = identify(request)
        except ApiProblem as exc:
            raise SignInRequired() from exc
        if caller is None:
            raise SignInRequired()
        if not caller.principal.may(role):
            raise PageForbidden(caller, role)
        return caller

    return dependency
