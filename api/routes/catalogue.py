"""``/api/accounts`` and ``/api/links``: every account orgvend knows, every switch-role link."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from api.auth import Role
from api.deps import Caller, api_caller, context_of
from api.docs import problems
from api.models import AccountList, AccountOut
from api.problems import ApiProblem
from bootstrap.exports import FILENAMES, MEDIA_TYPES

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["catalogue"])

ExportFormat = Literal["json", "csv", "aws-config", "aesr"]
_TEXT = {"schema": {"type": "string"}}


@router.get(
    "/accounts",
    response_model=AccountList,
    summary="Every account: core accounts, catalogued accounts and those being vended",
    responses=problems(401, 403, 503),
)
def list_accounts(
    request: Request, caller: Annotated[Caller, Depends(api_caller(Role.VIEWER))]
) -> AccountList:
    ctx = context_of(request)
    found: dict[str, AccountOut] = {}
    for kind, account_id in ctx.core_account_ids().items():
        name = ctx.config.core_accounts[kind].name
        found[account_id] = AccountOut(
            account_id=account_id, name=name, kind=kind, stream=None, status="READY", roles=[]
        )
    for link in ctx.links(fresh=True).value.links:
        entry = found.setdefault(
            link.account_id,
            AccountOut(
                account_id=link.account_id,
                name=link.account_name,
                kind=link.environment,
                stream=link.stream,
                status="READY",
                roles=[],
            ),
        )
        entry.roles.append(link.role_name)
    pending: list[AccountOut] = []
    for record in ctx.streams(fresh=True).value.records:
        for env, entry in (record.get("accounts") or {}).items():
            if entry.get("account_id") in found:
                continue
            pending.append(
                AccountOut(
                    account_id=entry.get("account_id"),
                    name=str(entry.get("name") or f"{record['name']}-{env}"),
                    kind=env,
                    stream=str(record["name"]),
                    status=str(entry.get("status") or "REQUESTED"),
                    roles=[],
                )
            )
    return AccountList(items=[*found.values(), *sorted(pending, key=lambda a: a.name)])


@router.get(
    "/links",
    summary="The link catalogue in one of its export formats",
    description=(
        "`json` (the default), `csv` (spreadsheet-safe), `aws-config` (profiles for "
        "~/.aws/config) or `aesr` (the aws-extend-switch-roles browser extension). `user` adds "
        "the MFA device of that IAM user to `aws-config` profiles; `stream` keeps one stream."
    ),
    responses={
        200: {
            "description": "The export.",
            "content": {
                "application/json": {
                    "schema": {"type": "array", "items": {"$ref": "#/components/schemas/LinkOut"}}
                },
                "text/csv": _TEXT,
                "text/plain": _TEXT,
            },
        },
        **problems(401, 403, 422, 503),
    },
)
def export_links(
    request: Request,
    caller: Annotated[Caller, Depends(api_caller(Role.VIEWER))],
    format: ExportFormat = "json",
    stream: Annotated[str | None, Query(max_length=64)] = None,
    user: Annotated[str | None, Query(max_length=64)] = None,
) -> Response:
    ctx = context_of(request)
    view = ctx.links().value
    try:
        text = view.export(
            format,
            users_account_id=ctx.users_account_id(),
            region=ctx.config.home_region,
            stream=stream,
            user=user,
        )
    except ValueError as exc:
        raise ApiProblem(
            422,
            "The catalogue cannot be exported so.",
            code="ExportInvalid",
            errors=[{"path": "/query/user" if user else "", "message": str(exc)}],
        ) from exc
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{FILENAMES[format]}"'
    return Response(text, media_type=MEDIA_TYPES[format], headers=headers)
