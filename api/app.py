"""The FastAPI app: the JSON API, the pages and their static files, behind one guard.

:func:`create_app` takes everything it uses (session, config, settings, role source), so the
sandbox, ``orgvend serve``, the Lambda handler and the tests build the same app.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

import boto3
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.auth import RoleSource
from api.context import AppContext
from api.deps import PageForbidden, SignInRequired, identify
from api.docs import install_openapi
from api.middleware import Guard
from api.models import Health
from api.problems import ApiProblem, install_problem_handlers
from api.routes import catalogue, pages, signin, streams
from api.sessions import SessionCodec
from api.templating import STATIC_DIR, render
from bootstrap.config import OrgConfig
from bootstrap.settings import Settings

__all__ = ["create_app"]

_JSON_PREFIXES = ("/api/", "/partials/", "/healthz", "/openapi.json")


def _wants_json(request: Request) -> bool:
    return request.url.path.startswith(_JSON_PREFIXES)


def _install_page_handlers(app: FastAPI) -> None:
    api_problem = app.exception_handlers[ApiProblem]

    async def on_sign_in(request: Request, exc: Exception) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)

    async def on_forbidden(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, PageForbidden)
        who = exc.caller.principal
        message = f"This page needs the {exc.role.label} role; {who.name} has {who.role.label}."
        return render(request, "error.html", exc.caller, {"message": message}, status=403)

    async def on_problem(request: Request, exc: Exception) -> Response:
        if _wants_json(request):
            answer = api_problem(request, exc)
            return answer if isinstance(answer, Response) else await answer
        assert isinstance(exc, ApiProblem)
        try:
            caller = identify(request)
        except ApiProblem:
            caller = None
        return render(request, "error.html", caller, {"message": exc.detail}, status=exc.status)

    app.add_exception_handler(SignInRequired, on_sign_in)
    app.add_exception_handler(PageForbidden, on_forbidden)
    app.add_exception_handler(ApiProblem, on_problem)


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Start reading the tables at once, so the first page need not wait for a scan."""
    ctx: AppContext = app.state.ctx
    ctx.streams_view.warm()
    ctx.links_view.warm()
    yield


def _healthz() -> Health:
    return Health(status="ok")


def create_app(
    *,
    session: boto3.Session,
    config: OrgConfig,
    settings: Settings,
    roles: RoleSource,
    session_secret: bytes | None = None,
    snapshot_seconds: float = 1.0,
) -> FastAPI:
    """The whole service. ``session_secret`` signs page sessions: give every instance of a
    deployment the same one; by default each app makes its own (sessions end on restart)."""
    app = FastAPI(
        lifespan=_lifespan,
        title="orgvend",
        version="0.1.0",
        description="Vends AWS accounts for business streams and keeps the switch-role links.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.ctx = AppContext(
        session=session,
        config=config,
        settings=settings,
        roles=roles,
        sessions=SessionCodec(session_secret or secrets.token_bytes(32)),
        snapshot_seconds=snapshot_seconds,
    )
    install_problem_handlers(app)
    _install_page_handlers(app)
    install_openapi(app)
    app.add_api_route(
        "/healthz", _healthz, response_model=Health, tags=["health"], summary="Liveness"
    )
    app.include_router(streams.router)
    app.include_router(catalogue.router)
    app.include_router(signin.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.add_middleware(Guard)
    return app
