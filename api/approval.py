"""Approving or rejecting a pending stream: record the decision, then answer the parked task.

The workflow's ``AwaitApproval`` step parks its task token on the stream record a moment after
the request is accepted, so a decision made very early waits briefly for it. The decision is
written before the token is answered and guarded by the record's version, so two people
deciding at once end with one decision and one answer; the workflow itself then moves the
stream to RUNNING or REJECTED.
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from api.auth import Principal
from api.context import AppContext
from api.problems import ApiProblem
from bootstrap.aws import error_code
from bootstrap.streams import now_iso

__all__ = ["REJECTED_ERROR", "decide"]

REJECTED_ERROR = "StreamRejected"
"""The error the ASL's AwaitApproval Catch routes to MarkRejected."""
TOKEN_WAIT_SECONDS = 3.0
_GONE = {"InvalidToken", "TaskTimedOut", "TaskDoesNotExist"}

Record = dict[str, Any]


class _Decided(Exception):
    def __init__(self, decision: str) -> None:
        super().__init__(decision)
        self.decision = decision


def _not_pending(record: Record) -> ApiProblem:
    decision = (record.get("approval") or {}).get("decision")
    done = f" It was already {decision}." if decision else ""
    return ApiProblem(
        409,
        f"Stream {record['name']!r} is {record['status']}, not PENDING_APPROVAL.{done}",
        code="NotPendingApproval",
    )


def _parked_token(ctx: AppContext, name: str) -> tuple[Record, str | None]:
    """The record and its parked token, waiting up to TOKEN_WAIT_SECONDS for the token."""
    streams = ctx.local().streams
    deadline = time.monotonic() + TOKEN_WAIT_SECONDS
    while True:
        record = streams.require(name)
        token = (record.get("approval") or {}).get("token")
        if token or record["status"] != "PENDING_APPROVAL" or time.monotonic() > deadline:
            return record, token
        time.sleep(0.1)


def _record_decision(
    ctx: AppContext, name: str, who: Principal, decision: str, reason: str
) -> Record:
    def change(record: Record) -> None:
        approval = record.setdefault("approval", {})
        if approval.get("decision") or record["status"] != "PENDING_APPROVAL":
            raise _Decided(str(approval.get("decision") or ""))
        approval.update(decision=decision, decided_by=who.name, decided_at=now_iso(), reason=reason)

    return ctx.local().streams.update(name, change)


def _forget_decision(ctx: AppContext, name: str, who: Principal) -> None:
    """Undo a decision whose task had already ended, unless the workflow wrote its own."""

    def change(record: Record) -> None:
        approval = record.setdefault("approval", {})
        if approval.get("decided_by") != who.name:
            return
        for key in ("decision", "decided_by", "decided_at", "reason"):
            approval.pop(key, None)

    ctx.local().streams.update(name, change)


def _answer(ctx: AppContext, token: str, decision: str, reason: str) -> None:
    sfn = ctx.local().sfn
    if decision == "approved":
        sfn.send_task_success(taskToken=token, output="{}")
    else:
        sfn.send_task_failure(taskToken=token, error=REJECTED_ERROR, cause=reason[:32768])


def decide(
    ctx: AppContext, name: str, who: Principal, decision: str, reason: str
) -> tuple[Record, bool]:
    """Approve or reject ``name``; ``(record, False)`` when this decision was already made."""
    current = ctx.local().streams.require(name)
    if (current.get("approval") or {}).get("decision") == decision:
        return current, False
    if current["status"] != "PENDING_APPROVAL":
        raise _not_pending(current)
    current, token = _parked_token(ctx, name)
    if current["status"] != "PENDING_APPROVAL":
        raise _not_pending(current)
    if not token:
        raise ApiProblem(
            409,
            "The workflow has not reached its approval step yet; try again in a moment.",
            code="ApprovalNotReady",
            headers={"Retry-After": "2"},
        )
    try:
        record = _record_decision(ctx, name, who, decision, reason)
    except _Decided as exc:
        latest = ctx.local().streams.require(name)
        if exc.decision == decision:
            return latest, False
        raise _not_pending(latest) from exc
    try:
        _answer(ctx, token, decision, reason)
    except ClientError as exc:
        if error_code(exc) not in _GONE:
            raise
        _forget_decision(ctx, name, who)
        raise ApiProblem(
            409,
            "The approval step has already ended (it may have timed out); reload the stream.",
            code="ApprovalExpired",
        ) from exc
    ctx.changed()
    return record, True
