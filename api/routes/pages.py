"""The pages: dashboard, one stream, the new-stream form and the link catalogue.

Parts that change while a person watches (the dashboard table, a stream's graph and
timeline) are also served alone under ``/partials/``; ``static/orgvend.js`` polls them and
swaps them in, so the page updates without a reload. Forms outside those parts are never
replaced under someone's cursor.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from api.approval import decide
from api.auth import Role
from api.deps import Caller, api_caller, context_of, page_caller
from api.forms import errors_by_field, form_fields, read_form
from api.graph import workflow_graph
from api.inspect import ready_links, workflow_of
from api.problems import ApiProblem
from api.sessions import CSRF_FIELD, same_token
from api.templating import render
from api.views import stream_out
from bootstrap.errors import RequestInvalid, StreamConflict, StreamNotFound
from bootstrap.streams import STEPS
from bootstrap.validation import validate
from workflows.vending import submit

__all__ = ["router"]

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Caller, Depends(page_caller(Role.VIEWER))]
Requester = Annotated[Caller, Depends(page_caller(Role.REQUESTER))]
Ops = Annotated[Caller, Depends(page_caller(Role.OPS))]
PollViewer = Annotated[Caller, Depends(api_caller(Role.VIEWER))]
StreamName = Annotated[str, Path(max_length=64)]
FINAL = ("SUCCEEDED", "FAILED", "REJECTED")


GENERATION_HEADER = "x-orgvend-generation"
"""The poller sends the generation it shows; an unchanged one is answered 204, no body."""


@router.get("/", response_class=HTMLResponse)
def dashboard(request: Request, caller: Viewer) -> Response:
    version = context_of(request).streams()
    context = {"table": version.value.dashboard_html, "generation": version.generation}
    return render(request, "dashboard.html", caller, context)


@router.get("/partials/dashboard", response_class=HTMLResponse)
def dashboard_rows(request: Request, caller: PollViewer) -> Response:
    version = context_of(request).streams()
    headers = {GENERATION_HEADER: str(version.generation)}
    if request.headers.get(GENERATION_HEADER) == str(version.generation):
        return Response(status_code=204, headers=headers)
    return HTMLResponse(version.value.dashboard_html, headers=headers)


def _stream_context(request: Request, name: str) -> dict[str, Any]:
    ctx = context_of(request)
    record = ctx.local().streams.require(name)
    stream = stream_out(record, ready_links(ctx.config, record), workflow_of(ctx, record))
    return {
        "stream": stream,
        "graph": workflow_graph(),
        "states": stream.workflow.states if stream.workflow else {},
        "final": stream.status in FINAL,
        "steps": STEPS,
    }


def _stream_page(
    request: Request, caller: Caller, name: str, *, error: str = "", status: int = 200
) -> Response:
    try:
        context = _stream_context(request, name)
    except StreamNotFound as exc:
        return render(request, "error.html", caller, {"message": exc.message}, status=404)
    return render(request, "stream.html", caller, {**context, "error": error}, status=status)


@router.get("/streams/new", response_class=HTMLResponse)
def new_stream_form(request: Request, caller: Requester) -> Response:
    return _form_page(request, caller, {}, [], status=200)


@router.get("/streams/{name}", response_class=HTMLResponse)
def stream_page(request: Request, caller: Viewer, name: StreamName) -> Response:
    return _stream_page(request, caller, name)


@router.get("/partials/streams/{name}", response_class=HTMLResponse)
def stream_part(request: Request, caller: PollViewer, name: StreamName) -> Response:
    return render(request, "_stream_live.html", caller, _stream_context(request, name))


async def _form(request: Request, caller: Caller) -> dict[str, list[str]]:
    """The posted fields, after the CSRF check a cookie session needs."""
    form = await request.form()
    values: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            values.setdefault(key, []).append(value)
    if caller.session is not None:
        sent = (values.get(CSRF_FIELD) or [""])[0]
        if not same_token(sent, caller.session.csrf):
            raise ApiProblem(403, "The form's CSRF token is missing or stale.", code="CsrfFailed")
    return values


def _form_page(
    request: Request,
    caller: Caller,
    values: Mapping[str, Sequence[str]],
    issues: list[dict[str, str]],
    *,
    status: int,
) -> Response:
    fields = form_fields(context_of(request).config)
    by_field, rest = errors_by_field(issues, fields)
    context = {"fields": fields, "values": values, "errors": by_field, "general": rest}
    return render(request, "new_stream.html", caller, context, status=status)


@router.post("/streams/new", response_class=HTMLResponse)
async def new_stream(request: Request, caller: Requester) -> Response:
    values = await _form(request, caller)
    ctx = context_of(request)
    document, issues = read_form(values, form_fields(ctx.config))
    if issues:
        everything = issues + validate(document, "stream-request")
        return _form_page(request, caller, values, everything, status=422)
    who = caller.principal

    def work() -> str:
        local = ctx.local()
        result = submit(
            local.session, ctx.config, ctx.settings, document,
            requested_by=who.name, ops=who.may(Role.OPS),
        )  # fmt: skip
        ctx.changed()
        return str(result.record["name"])

    try:
        name = await run_in_threadpool(work)
    except RequestInvalid as exc:
        return _form_page(request, caller, values, exc.errors, status=422)
    except StreamConflict as exc:
        issue = [{"path": "/name", "message": exc.message}]
        return _form_page(request, caller, values, issue, status=409)
    return RedirectResponse(f"/streams/{name}", status_code=303)


async def _decide_page(request: Request, caller: Caller, name: str, decision: str) -> Response:
    values = await _form(request, caller)
    reason = (values.get("reason") or [""])[0].strip()[:1000]
    if decision == "rejected" and not reason:
        return _stream_page(
            request, caller, name, error="Say why the stream is rejected.", status=422
        )
    ctx = context_of(request)
    try:
        await run_in_threadpool(decide, ctx, name, caller.principal, decision, reason)
    except ApiProblem as exc:
        return _stream_page(request, caller, name, error=exc.detail, status=exc.status)
    return RedirectResponse(f"/streams/{name}", status_code=303)


@router.post("/streams/{name}/approve", response_class=HTMLResponse)
async def approve_page(request: Request, caller: Ops, name: StreamName) -> Response:
    return await _decide_page(request, caller, name, "approved")


@router.post("/streams/{name}/reject", response_class=HTMLResponse)
async def reject_page(request: Request, caller: Ops, name: StreamName) -> Response:
    return await _decide_page(request, caller, name, "rejected")


_FORMATS = [("json", "JSON"), ("csv", "CSV"), ("aws-config", "~/.aws/config"), ("aesr", "AESR")]


@router.get("/links", response_class=HTMLResponse)
def links_page(request: Request, caller: Viewer) -> Response:
    view = context_of(request).links().value
    context = {"catalogue": view.catalogue_html, "formats": _FORMATS, "count": len(view.links)}
    return render(request, "links.html", caller, context)
