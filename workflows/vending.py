"""Submitting a stream: record it, then start its execution exactly once.

The execution name comes from the record (``<stream>-<attempt>``), and the record is written
before StartExecution, so a crash between the two is healed by starting again: Step
Functions answers the same name and input with the same execution.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.cidrs import CidrAllocator
from bootstrap.config import OrgConfig
from bootstrap.errors import OrgvendError, RequestInvalid, StreamConflict
from bootstrap.requests import fingerprint, normalise_request
from bootstrap.settings import Settings
from bootstrap.store import DynamoRecordTable
from bootstrap.streams import StreamStore

__all__ = ["Submission", "execution_input", "start_execution", "stream_store", "submit"]

Record = dict[str, Any]


@dataclass(frozen=True)
class Submission:
    record: Record
    created: bool
    """False when the request was an identical replay of one already accepted."""


def stream_store(session: boto3.Session, settings: Settings) -> StreamStore:
    return StreamStore(DynamoRecordTable(session, settings.tables.streams))


def _account_entry(config: OrgConfig, stream: str, env: str) -> dict[str, Any]:
    return {
        "status": "REQUESTED",
        "name": f"{stream}-{env}",
        "email": config.stream_email(stream, env),
        "steps_done": [],
        "timeline": [],
    }


def _check_emails(session: boto3.Session, config: OrgConfig, request: Record) -> None:
    """Refuse a request whose root emails an existing account already uses (one listing)."""
    wanted = {config.stream_email(request["name"], env).lower() for env in request["environments"]}
    org = client(session, "organizations")
    for page in org.get_paginator("list_accounts").paginate():
        for account in page["Accounts"]:
            email = str(account["Email"]).lower()
            if email in wanted and account.get("Status") != "SUSPENDED":
                raise RequestInvalid(
                    "stream request",
                    [
                        {
                            "path": "/name",
                            "message": f"root email {email} is taken by another account",
                        }
                    ],
                )


def _reserve_cidrs(
    session: boto3.Session, config: OrgConfig, settings: Settings, request: Record
) -> None:
    """Claim requested CIDRs now, so two requests can never both be accepted with one range."""
    net = config.network
    allocator = CidrAllocator(
        DynamoRecordTable(session, settings.tables.cidrs),
        pool=net.stream_pool,
        reserved=[net.operations_vpc_cidr],
    )
    for env, text in request.get("cidr", {}).items():
        try:
            allocator.allocate(
                f"{request['name']}/{env}",
                prefix=net.prefix_length[env],
                requested=IPv4Network(text),
            )
        except OrgvendError as exc:
            if not exc.code.startswith("Cidr"):
                raise
            raise RequestInvalid(
                "stream request", [{"path": f"/cidr/{env}", "message": exc.message}]
            ) from exc


def submit(
    session: boto3.Session,
    config: OrgConfig,
    settings: Settings,
    data: Any,
    *,
    requested_by: str,
    ops: bool,
) -> Submission:
    """Validate, record and start a stream. ``ops`` skips approval and may re-run or extend."""
    request = normalise_request(data, config)
    streams = stream_store(session, settings)
    name = request["name"]
    existing = streams.get(name)
    if existing is None:
        _check_emails(session, config, request)
        _reserve_cidrs(session, config, settings, request)
        approval = config.approval_required and not ops
        record: Record = {
            "name": name,
            "request": request,
            "request_hash": fingerprint(request),
            "requested_by": requested_by,
            "via": "ops" if ops else "request",
            "status": "PENDING_APPROVAL" if approval else "RUNNING",
            "needs_approval": approval,
            "attempt": 1,
            "execution_name": f"{name}-1",
            "execution_arn": _execution_arn(settings, f"{name}-1"),
            "accounts": {env: _account_entry(config, name, env) for env in request["environments"]},
        }
        stored = streams.create(record)
        if stored is None:
            return submit(session, config, settings, data, requested_by=requested_by, ops=ops)
        start_execution(session, config, settings, stored)
        return Submission(stored, True)
    same = existing["request_hash"] == fingerprint(request)
    if same and not (ops and existing["status"] in ("FAILED", "REJECTED")):
        if existing["status"] in ("RUNNING", "PENDING_APPROVAL"):
            # Heals a crash between recording and starting; a started one is left as it is.
            start_execution(session, config, settings, existing)
        return Submission(existing, False)
    if not same and not (ops and _extends(existing["request"], request)):
        raise StreamConflict(
            f"Stream {name!r} exists with a different request; an identical replay is accepted, "
            "and ops may add an environment with `orgvend vend`."
        )
    _reserve_cidrs(session, config, settings, request)
    return Submission(_restart(session, config, settings, request, requested_by), True)


def _extends(old: Record, new: Record) -> bool:
    """True when ``new`` only adds environments (and their CIDRs) to ``old``."""
    fixed = {k: v for k, v in old.items() if k not in ("environments", "cidr")}
    same_rest = fixed == {k: v for k, v in new.items() if k not in ("environments", "cidr")}
    kept = set(old["environments"]) <= set(new["environments"])
    cidrs_kept = all(new.get("cidr", {}).get(e) == c for e, c in old.get("cidr", {}).items())
    return same_rest and kept and cidrs_kept


def _restart(
    session: boto3.Session,
    config: OrgConfig,
    settings: Settings,
    request: Record,
    requested_by: str,
) -> Record:
    streams = stream_store(session, settings)
    name = request["name"]

    def change(record: Record) -> None:
        record["request"] = request
        record["request_hash"] = fingerprint(request)
        record["requested_by"] = requested_by
        record["attempt"] = int(record["attempt"]) + 1
        record["execution_name"] = f"{name}-{record['attempt']}"
        record["execution_arn"] = _execution_arn(settings, record["execution_name"])
        record["status"] = "RUNNING"
        record["needs_approval"] = False
        for key in ("failure_code", "failure_message", "step_failure_code", "step_failure_message"):
            record[key] = None
        for env in request["environments"]:
            entry = record["accounts"].setdefault(env, _account_entry(config, name, env))
            if entry["status"] != "READY":
                entry.update(status="REQUESTED", failure_code=None, failure_message=None)

    record = streams.update(name, change)
    start_execution(session, config, settings, record)
    return record


def execution_input(config: OrgConfig, record: Record) -> dict[str, Any]:
    todo = [
        env
        for env in record["request"]["environments"]
        if record["accounts"][env]["status"] != "READY"
    ]
    return {
        "stream": record["name"],
        "environments": todo,
        "approval": {
            "required": bool(record.get("needs_approval")),
            "timeout_seconds": config.approval_timeout_seconds,
        },
        "max_concurrency": config.max_concurrent_environments,
        "poll_seconds": config.poll_seconds,
    }


def _execution_arn(settings: Settings, execution_name: str) -> str:
    machine = settings.state_machine_arn.replace(":stateMachine:", ":execution:")
    return f"{machine}:{execution_name}"


def start_execution(
    session: boto3.Session, config: OrgConfig, settings: Settings, record: Record
) -> None:
    """Start the execution the record names; one that exists already is left as it is.

    The record holds the execution's ARN before it starts, so no write follows the start.
    """
    sfn = client(session, "stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=settings.state_machine_arn,
            name=record["execution_name"],
            input=json.dumps(execution_input(config, record), sort_keys=True),
        )
    except ClientError as exc:
        if error_code(exc) != "ExecutionAlreadyExists":
            raise
