"""``/api/streams``: request a stream, list and inspect streams, approve or reject them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from api.approval import decide
from api.auth import Role
from api.bodies import json_body
from api.deps import Caller, api_caller, context_of
from api.docs import DECISION_BODY, STREAM_REQUEST_BODY, problems
from api.inspect import stream_detail
from api.models import StreamOut, StreamPage, StreamStatus
from api.problems import ApiProblem
from api.views import stream_out, stream_summary
from bootstrap.errors import RequestInvalid
from bootstrap.provisioning import stream_links
from workflows.vending import submit

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["streams"])
_MAX_REASON = 1000


def _json(model: StreamOut, status: int) -> JSONResponse:
    return JSONResponse(model.model_dump(mode="json"), status_code=status)


@router.post(
    "/streams",
    status_code=202,
    response_model=StreamOut,
    summary="Request a new stream",
    description=(
        "Validates the request against `schemas/stream-request.schema.json` and the org's "
        "own rules, records it and starts its workflow. A requester's stream waits in "
        "PENDING_APPROVAL when the org requires approval; an ops request starts at once."
    ),
    responses={
        200: {"model": StreamOut, "description": "An identical replay: the stream as it is."},
        **problems(401, 403, 409, 413, 415, 422),
    },
    openapi_extra=STREAM_REQUEST_BODY,
)
async def create_stream(
    request: Request, caller: Annotated[Caller, Depends(api_caller(Role.REQUESTER))]
) -> JSONResponse:
    data = await json_body(request, required=True)
    ctx = context_of(request)
    who = caller.principal

    def work() -> tuple[StreamOut, bool]:
        local = ctx.local()
        result = submit(
            local.session,
            ctx.config,
            ctx.settings,
            data,
            requested_by=who.name,
            ops=who.may(Role.OPS),
        )
        ctx.changed()
        return stream_out(result.record, stream_links(ctx.config, result.record)), result.created

    model, created = await run_in_threadpool(work)
    return _json(model, 202 if created else 200)


@router.get(
    "/streams",
    response_model=StreamPage,
    summary="List streams",
    description=(
        "Streams by name, a page at a time; `status` keeps only streams in that status. The "
        "list is read at most once a second, so a change made elsewhere shows within one."
    ),
    responses=problems(401, 403, 422),
)
def list_streams(
    request: Request,
    caller: Annotated[Caller, Depends(api_caller(Role.VIEWER))],
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
    status: StreamStatus | None = None,
) -> StreamPage:
    records = context_of(request).streams().value.records
    chosen = [
        r
        for r in records
        if (status is None or r.get("status") == status)
        and (cursor is None or str(r["name"]) > cursor)
    ]
    page = chosen[:limit]
    more = len(chosen) > limit
    return StreamPage(
        items=[stream_summary(r) for r in page],
        next_cursor=str(page[-1]["name"]) if more and page else None,
    )


@router.get(
    "/streams/{name}",
    response_model=StreamOut,
    summary="One stream: status, accounts, steps, failure, workflow states",
    responses=problems(401, 403, 404, 422),
)
def get_stream(
    request: Request,
    caller: Annotated[Caller, Depends(api_caller(Role.VIEWER))],
    name: Annotated[str, Path(max_length=64)],
) -> StreamOut:
    return stream_detail(context_of(request), name)


async def _decision(request: Request, caller: Caller, name: str, decision: str) -> JSONResponse:
    data: Any = await json_body(request, required=False)
    reason = _reason(data, required=decision == "rejected")
    ctx = context_of(request)

    def work() -> tuple[StreamOut, bool]:
        record, new = decide(ctx, name, caller.principal, decision, reason)
        return stream_out(record, stream_links(ctx.config, record)), new

    model, new = await run_in_threadpool(work)
    return _json(model, 202 if new else 200)


def _reason(data: Any, *, required: bool) -> str:
    if data is None:
        data = {}
    errors: list[dict[str, str]] = []
    if not isinstance(data, dict):
        errors.append({"path": "", "message": 'must be an object like {"reason": "..."}'})
    else:
        extra = sorted(set(data) - {"reason"})
        if extra:
            errors.append({"path": f"/{extra[0]}", "message": "unknown field; allowed: reason"})
        reason: Any = data.get("reason", "")
        if not isinstance(reason, str):
            errors.append({"path": "/reason", "message": "must be of type string"})
        elif len(reason) > _MAX_REASON:
            errors.append({"path": "/reason", "message": f"at most {_MAX_REASON} characters"})
        elif required and not reason.strip():
            errors.append({"path": "/reason", "message": "is required: say why it is rejected"})
        if not errors:
            return str(reason).strip()
    raise ApiProblem(422, "The decision is invalid.", code=RequestInvalid.code, errors=errors)


@router.post(
    "/streams/{name}/approve",
    status_code=202,
    response_model=StreamOut,
    summary="Approve a pending stream (ops)",
    description="Records who approved, when and why, then lets the workflow go on.",
    responses={
        200: {"model": StreamOut, "description": "Already approved: the stream as it is."},
        **problems(401, 403, 404, 409, 413, 415, 422),
    },
    openapi_extra=DECISION_BODY,
)
async def approve_stream(
    request: Request,
    caller: Annotated[Caller, Depends(api_caller(Role.OPS))],
    name: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    return await _decision(request, caller, name, "approved")


@router.post(
    "/streams/{name}/reject",
    status_code=202,
    response_model=StreamOut,
    summary="Reject a pending stream (ops; a reason is required)",
    responses={
        200: {"model": StreamOut, "description": "Already rejected: the stream as it is."},
        **problems(401, 403, 404, 409, 413, 415, 422),
    },
    openapi_extra=DECISION_BODY,
)
async def reject_stream(
    request: Request,
    caller: Annotated[Caller, Depends(api_caller(Role.OPS))],
    name: Annotated[str, Path(max_length=64)],
) -> JSONResponse:
    return await _decision(request, caller, name, "rejected")
