"""The documented shapes of every JSON answer: the OpenAPI document is generated from these.

Shapes are whitelists: a stream record is copied field by field into them, so anything the
record holds but a caller must not see (the parked approval task token) cannot leak.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "AccountList",
    "AccountOut",
    "AccountState",
    "AccountStatus",
    "Approval",
    "Failure",
    "FieldError",
    "Health",
    "LinkOut",
    "Problem",
    "StateStatus",
    "StreamOut",
    "StreamPage",
    "StreamStatus",
    "StreamSummary",
    "TimelineEntry",
    "Workflow",
]

StreamStatus = Literal["PENDING_APPROVAL", "REJECTED", "RUNNING", "SUCCEEDED", "FAILED"]
AccountStatus = Literal["REQUESTED", "CREATING", "READY", "FAILED"]
StateStatus = Literal["not_started", "running", "succeeded", "failed"]


class FieldError(BaseModel):
    path: str = Field(description="JSON pointer to the offending field.")
    message: str = Field(description="What is wrong and what is allowed.")


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    code: str | None = None
    errors: list[FieldError] | None = None
    instance: str | None = None


class Health(BaseModel):
    status: Literal["ok"]


class TimelineEntry(BaseModel):
    step: str
    at: str
    done_at: str | None = None


class AccountState(BaseModel):
    environment: str
    status: AccountStatus
    name: str
    email: str
    account_id: str | None = None
    step: str | None = Field(None, description="The step in progress, if any.")
    steps_done: list[str]
    steps_total: int
    timeline: list[TimelineEntry]
    failure_code: str | None = None
    failure_message: str | None = None
    ou: str | None = None
    cidr: str | None = None
    vpc_id: str | None = None
    peering_id: str | None = None


class Approval(BaseModel):
    required: bool
    decision: Literal["approved", "rejected"] | None = None
    decided_by: str | None = None
    decided_at: str | None = None
    reason: str | None = None


class Failure(BaseModel):
    code: str
    message: str


class LinkOut(BaseModel):
    stream: str | None
    environment: str
    account_id: str
    account_name: str
    role_name: str
    display_name: str
    colour: str
    url: str


class Workflow(BaseModel):
    execution_arn: str | None
    status: str | None = Field(description="The execution's status in Step Functions.")
    states: dict[str, StateStatus] = Field(
        description="Every state of the definition and how far this execution got with it."
    )


class StreamSummary(BaseModel):
    name: str
    display_name: str
    status: StreamStatus
    requested_by: str
    via: str
    created_at: str
    updated_at: str
    accounts: list[AccountState]
    approval: Approval
    failure: Failure | None = None


class StreamOut(StreamSummary):
    request: dict[str, Any] = Field(description="The request as accepted, defaults filled in.")
    attempt: int
    execution_arn: str | None = None
    links: list[LinkOut]
    workflow: Workflow | None = None


class StreamPage(BaseModel):
    items: list[StreamSummary]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class AccountOut(BaseModel):
    account_id: str | None
    name: str
    kind: str = Field(description="users, operations, vault, rnd, live or devtest.")
    stream: str | None
    status: str
    roles: list[str]


class AccountList(BaseModel):
    items: list[AccountOut]
