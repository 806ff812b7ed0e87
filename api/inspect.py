"""Reading a stream as people see it: its record, its execution, its catalogued links."""

from __future__ import annotations

import logging
from typing import Any

from botocore.exceptions import ClientError

from api.context import AppContext
from api.models import StreamOut, Workflow
from api.views import state_statuses, stream_out
from bootstrap.catalogue import Link
from bootstrap.config import OrgConfig
from bootstrap.provisioning import stream_links

__all__ = ["ready_links", "stream_detail", "workflow_of"]

log = logging.getLogger("orgvend.api")
Record = dict[str, Any]


def ready_links(config: OrgConfig, record: Record) -> list[Link]:
    """Links of the stream's accounts that are registered: never one to a half-built role."""
    accounts = record.get("accounts") or {}

    def registered(link: Link) -> bool:
        entry = accounts.get(link.environment) or {}
        return entry.get("status") == "READY" or "RegisterLinks" in (entry.get("steps_done") or [])

    return [link for link in stream_links(config, record) if registered(link)]


def workflow_of(ctx: AppContext, record: Record) -> Workflow | None:
    arn = record.get("execution_arn")
    if not arn:
        return None
    sfn = ctx.local().sfn
    try:
        status = str(sfn.describe_execution(executionArn=arn)["status"])
        events = [
            event
            for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
            for event in page["events"]
        ]
    except ClientError as exc:
        log.warning("execution %s cannot be read: %s", arn, exc)
        return None
    return Workflow(execution_arn=arn, status=status, states=state_statuses(events, status))


def stream_detail(ctx: AppContext, name: str) -> StreamOut:
    record = ctx.local().streams.require(name)
    return stream_out(record, ready_links(ctx.config, record), workflow_of(ctx, record))
