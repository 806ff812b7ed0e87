"""Signing in to the pages with a token, and out again.

The sign-in form is protected against login CSRF by a double-submit token: a random value in
an HttpOnly, SameSite=Strict cookie that the form must echo. A successful sign-in replaces it
with the session cookie, whose own CSRF token every later form carries.
"""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.auth import Role
from api.deps import Caller, context_of, identify, page_caller
from api.problems import ApiProblem
from api.sessions import CSRF_FIELD, SESSION_COOKIE, SIGNIN_COOKIE, same_token
from api.templating import render

__all__ = ["router", "safe_next"]

router = APIRouter(include_in_schema=False)


def safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//host`` or a full URL (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _form(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    try:
        caller = identify(request)
    except ApiProblem:
        caller = None
    context = {"next": next_path, "signin_csrf": token, "error": error}
    response = render(request, "signin.html", caller, context, status=status)
    response.set_cookie(
        SIGNIN_COOKIE,
        token,
        max_age=1800,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/signin",
    )
    return response


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    request: Request, next: Annotated[str | None, Query(max_length=512)] = None
) -> Response:
    return _form(request, safe_next(next))


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    form = await request.form()
    token = str(form.get("token") or "").strip()
    next_path = safe_next(str(form.get("next") or "/"))
    if not same_token(str(form.get(CSRF_FIELD) or ""), request.cookies.get(SIGNIN_COOKIE)):
        return _form(request, next_path, "The form expired; please sign in again.", 403)
    ctx = context_of(request)
    principal = ctx.roles.from_token(token)
    if principal is None:
        return _form(request, next_path, "That token is not valid.", 401)
    value, _ = ctx.sessions.issue(principal)
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=ctx.sessions.max_age_seconds,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(SIGNIN_COOKIE, path="/signin")
    return response


@router.post("/signout", response_class=HTMLResponse)
async def signout(
    request: Request, caller: Annotated[Caller, Depends(page_caller(Role.VIEWER))]
) -> Response:
    form = await request.form()
    if caller.session is not None and not same_token(
        str(form.get(CSRF_FIELD) or ""), caller.session.csrf
    ):
        raise ApiProblem(403, "The form's CSRF token is missing or stale.", code="CsrfFailed")
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
