"""Helpers for workflow tests: requests, waiting for a stream to settle, reading AWS back."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from bootstrap.aws import member_session
from bootstrap.catalogue import LinkCatalogue
from bootstrap.store import DynamoRecordTable
from orgvend.sandbox import Sandbox
from workflows.vending import stream_store, submit

TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")


def request(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": f"Stream {name}",
        "owner": {"email": f"{name}@example.com", "team": "Team"},
        "cost_centre": "CC-1",
        **extra,
    }


def vend(box: Sandbox, data: dict[str, Any], *, ops: bool = True) -> dict[str, Any]:
    assert box.session is not None
    return submit(
        box.session, box.config, box.settings, data, requested_by="tester", ops=ops
    ).record


def wait_until(
    box: Sandbox, name: str, statuses: tuple[str, ...] = TERMINAL, timeout: float = 90
) -> dict[str, Any]:
    """The stream's record once its status is one of ``statuses`` (waiting on the workflow)."""
    assert box.session is not None
    streams = stream_store(box.session, box.settings)
    deadline = time.monotonic() + timeout
    while True:
        record = streams.require(name)
        if record["status"] in statuses:
            return record
        assert time.monotonic() < deadline, f"{name} still {record['status']}: {record}"
        time.sleep(0.2)


def inside(box: Sandbox, account_id: str) -> boto3.Session:
    assert box.session is not None
    return member_session(box.session, account_id, role_name=box.config.member_role_name)


def links_of(box: Sandbox, stream: str) -> list[Any]:
    assert box.session is not None
    return LinkCatalogue(DynamoRecordTable(box.session, box.settings.tables.links)).for_stream(
        stream
    )


def accounts_with_email(box: Sandbox, email: str) -> list[dict[str, Any]]:
    assert box.session is not None
    org = box.session.client("organizations")
    pages = org.get_paginator("list_accounts").paginate()
    return [a for p in pages for a in p["Accounts"] if a["Email"].lower() == email.lower()]


def history_states(box: Sandbox, execution_arn: str) -> list[str]:
    assert box.session is not None
    sfn = box.session.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=execution_arn)["events"]
    return [
        e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e
    ]


def trust_of(session: boto3.Session, role: str) -> dict[str, Any]:
    document = session.client("iam").get_role(RoleName=role)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)
