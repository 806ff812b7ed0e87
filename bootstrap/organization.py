"""The organisation itself, from the management account: root, OUs, accounts, SCPs.

Accounts are found by root email before anything is created, and an IN_PROGRESS CreateAccount
request is resumed by account name, so a run that crashed half-way never makes a second
account. In a dry run an account or OU that does not exist yet gets a *planned id* such as
``(new users account)``: callers test it with :func:`is_planned` and skip work inside it.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from bootstrap.aws import CLIENT_CONFIG, client, error_code
from bootstrap.changes import Plan
from bootstrap.config import CoreAccount
from bootstrap.errors import (
    AccountCreationFailed,
    AccountCreationPending,
    AllFeaturesNotEnabled,
    ConcurrentModification,
    Throttled,
)
from bootstrap.policies import compact

__all__ = [
    "CreationStatus",
    "creation_status",
    "ensure_account_in_ou",
    "ensure_core_account",
    "ensure_organization",
    "ensure_ou_path",
    "ensure_ou_paths",
    "ensure_policy",
    "find_account",
    "find_create_request",
    "is_planned",
    "planned_id",
    "raise_for_failure",
    "start_account_creation",
]

P = ParamSpec("P")
R = TypeVar("R")

_SCP = "SERVICE_CONTROL_POLICY"
_ONE_ATTEMPT = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))


def _translated(fn: Callable[P, R]) -> Callable[P, R]:
    """Throttling that outlasted botocore's retries becomes the error the workflow retries."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            code = error_code(exc)
            if code == "TooManyRequestsException":
                raise Throttled(str(exc)) from exc
            if code == "ConcurrentModificationException":
                raise ConcurrentModification(str(exc)) from exc
            raise

    return wrapper


def planned_id(label: str) -> str:
    return f"(new {label})"


def is_planned(resource_id: str) -> bool:
    """True for the stand-in id of something a dry run would create."""
    return resource_id.startswith("(")


@_translated
def ensure_organization(session: boto3.Session, *, plan: Plan) -> str:
    """An organisation with all features and SCPs enabled; returns its root id."""
    org = client(session, "organizations")
    try:
        feature_set = org.describe_organization()["Organization"]["FeatureSet"]
    except ClientError as exc:
        if error_code(exc) != "AWSOrganizationsNotInUseException":
            raise
        plan.record(
            "organization",
            "create",
            "all features",
            apply=lambda: org.create_organization(FeatureSet="ALL"),
        )
        if plan.dry_run:
            plan.record("root policy type SERVICE_CONTROL_POLICY", "create")
            return planned_id("root")
    else:
        if feature_set != "ALL":
            plan.record("organization", "update", f"feature set {feature_set} -> ALL (by hand)")
            raise AllFeaturesNotEnabled(f"the organisation's feature set is {feature_set}")
    root = org.list_roots()["Roots"][0]
    _ensure_scp_type(org, root, plan)
    return str(root["Id"])


def _ensure_scp_type(org: Any, root: dict[str, Any], plan: Plan) -> None:
    resource = f"root {root['Id']} policy type {_SCP}"
    enabled = any(
        t["Type"] == _SCP and t["Status"] == "ENABLED" for t in root.get("PolicyTypes", [])
    )
    if enabled:
        plan.unchanged(resource)
        return
    plan.record(
        resource,
        "update",
        "enable",
        apply=lambda: org.enable_policy_type(RootId=root["Id"], PolicyType=_SCP),
    )


def ensure_ou_path(session: boto3.Session, root_id: str, path: str, *, plan: Plan) -> str:
    """The OU at ``path`` (``Streams/Live``) under the root, made level by level; its id."""
    return ensure_ou_paths(session, root_id, [path], plan=plan)[path]


@_translated
def ensure_ou_paths(
    session: boto3.Session, root_id: str, paths: list[str], *, plan: Plan
) -> dict[str, str]:
    """Every OU path, each shared parent made and reported once; path -> OU id."""
    org = client(session, "organizations")
    known: dict[str, str] = {"": root_id}
    for path in paths:
        parts = path.split("/")
        for depth in range(1, len(parts) + 1):
            prefix = "/".join(parts[:depth])
            if prefix not in known:
                parent = known["/".join(parts[: depth - 1])]
                known[prefix] = _ensure_ou(org, parent, parts[depth - 1], prefix, plan)
    return {path: known[path] for path in paths}


def _ensure_ou(org: Any, parent_id: str, name: str, label: str, plan: Plan) -> str:
    if not is_planned(parent_id):
        pages = org.get_paginator("list_organizational_units_for_parent").paginate(
            ParentId=parent_id
        )
        for page in pages:
            for ou in page["OrganizationalUnits"]:
                if ou["Name"] == name:
                    plan.unchanged(f"OU {label}", ou["Id"])
                    return str(ou["Id"])
    reply = plan.record(
        f"OU {label}",
        "create",
        apply=lambda: org.create_organizational_unit(ParentId=parent_id, Name=name),
    )
    return planned_id(f"OU {label}") if reply is None else str(reply["OrganizationalUnit"]["Id"])


@_translated
def find_account(session: boto3.Session, *, email: str) -> dict[str, Any] | None:
    """The ACTIVE account with this root email: the key orgvend's idempotency rests on."""
    org = client(session, "organizations")
    try:
        for page in org.get_paginator("list_accounts").paginate():
            for account in page["Accounts"]:
                if account["Status"] == "ACTIVE" and account["Email"].lower() == email.lower():
                    return dict(account)
    except ClientError as exc:
        if error_code(exc) != "AWSOrganizationsNotInUseException":
            raise
    return None


@_translated
def find_create_request(session: boto3.Session, *, name: str) -> str | None:
    """An IN_PROGRESS CreateAccount for ``name``: what a crashed run left behind."""
    org = client(session, "organizations")
    try:
        pages = org.get_paginator("list_create_account_status").paginate(States=["IN_PROGRESS"])
        for page in pages:
            for status in page["CreateAccountStatuses"]:
                if status["AccountName"] == name:
                    return str(status["Id"])
    except ClientError as exc:
        if error_code(exc) != "AWSOrganizationsNotInUseException":
            raise
    return None


@_translated
def start_account_creation(
    session: boto3.Session, *, name: str, email: str, role_name: str, tags: dict[str, str]
) -> str:
    """One CreateAccount call, returning its ``car-`` id.

    The client makes a single attempt: a retry after a lost reply could start a second
    account. A throttled call was not accepted, so the caller may safely try again.
    """
    org = session.client("organizations", config=_ONE_ATTEMPT)
    reply = org.create_account(
        AccountName=name,
        Email=email,
        RoleName=role_name,
        Tags=[{"Key": k, "Value": v} for k, v in tags.items()],
    )
    return str(reply["CreateAccountStatus"]["Id"])


@dataclass(frozen=True)
class CreationStatus:
    state: str
    account_id: str | None
    failure_reason: str | None


@_translated
def creation_status(session: boto3.Session, request_id: str) -> CreationStatus:
    org = client(session, "organizations")
    status = org.describe_create_account_status(CreateAccountRequestId=request_id)
    body = status["CreateAccountStatus"]
    return CreationStatus(
        state=body["State"],
        account_id=body.get("AccountId"),
        failure_reason=body.get("FailureReason"),
    )


def raise_for_failure(status: CreationStatus, *, email: str, request_id: str) -> None:
    if status.state == "FAILED":
        reason = status.failure_reason or "UNKNOWN"
        raise AccountCreationFailed(reason, email=email, request_id=request_id)


@_translated
def ensure_account_in_ou(
    session: boto3.Session, account_id: str, ou_id: str, *, plan: Plan, label: str
) -> None:
    """The account sits directly in ``ou_id``; moved there from wherever it is."""
    resource = f"{label} in OU {ou_id}"
    if is_planned(account_id) or is_planned(ou_id):
        plan.record(resource, "update", "move from root")
        return
    org = client(session, "organizations")
    parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
    if parent == ou_id:
        plan.unchanged(resource)
        return
    plan.record(
        resource,
        "update",
        f"move from {parent}",
        apply=lambda: org.move_account(
            AccountId=account_id, SourceParentId=parent, DestinationParentId=ou_id
        ),
    )


@_translated
def ensure_policy(
    session: boto3.Session, *, name: str, document: dict[str, Any], target_id: str, plan: Plan
) -> str:
    """The SCP ``name`` holds ``document`` and is attached to ``target_id``; its id.

    Content is compared as JSON, so whitespace or key order is not drift.
    """
    org = client(session, "organizations")
    resource = f"SCP {name}"
    policy_id = None if is_planned(target_id) else _find_policy(org, name)
    if policy_id is None:
        reply = plan.record(
            resource,
            "create",
            apply=lambda: org.create_policy(
                Name=name,
                Description="Managed by orgvend: changes are reverted by the bootstrap",
                Type=_SCP,
                Content=compact(document),
            ),
        )
        if reply is None:
            plan.record(f"{resource} on {target_id}", "create", "attach")
            return planned_id(resource)
        policy_id = str(reply["Policy"]["PolicySummary"]["Id"])
        _ensure_attached(org, policy_id, resource, target_id, plan, "create")
        return policy_id
    _ensure_content(org, policy_id, resource, document, plan)
    _ensure_attached(org, policy_id, resource, target_id, plan, "repair")
    return policy_id


def _find_policy(org: Any, name: str) -> str | None:
    for page in org.get_paginator("list_policies").paginate(Filter=_SCP):
        for summary in page["Policies"]:
            if summary["Name"] == name:
                return str(summary["Id"])
    return None


def _ensure_content(
    org: Any, policy_id: str, resource: str, document: dict[str, Any], plan: Plan
) -> None:
    content = org.describe_policy(PolicyId=policy_id)["Policy"]["Content"]
    if json.loads(content) == document:
        plan.unchanged(resource, policy_id)
        return
    plan.record(
        resource,
        "repair",
        "content drifted",
        apply=lambda: org.update_policy(PolicyId=policy_id, Content=compact(document)),
    )


def _ensure_attached(
    org: Any, policy_id: str, resource: str, target_id: str, plan: Plan, action: str
) -> None:
    pages = org.get_paginator("list_targets_for_policy").paginate(PolicyId=policy_id)
    if any(t["TargetId"] == target_id for page in pages for t in page["Targets"]):
        plan.unchanged(f"{resource} on {target_id}")
        return
    plan.record(
        f"{resource} on {target_id}",
        action,
        "attach",
        apply=lambda: org.attach_policy(PolicyId=policy_id, TargetId=target_id),
    )


def ensure_core_account(
    session: boto3.Session,
    core: CoreAccount,
    *,
    role_name: str,
    tags: dict[str, str],
    plan: Plan,
    poll_seconds: float,
    timeout_seconds: float = 600,
) -> str:
    """The core account with ``core.email``: adopted, resumed or created; its id.

    Waiting here is fine: this is the bootstrap CLI, not a workflow step.
    """
    resource = f"account {core.kind} ({core.email})"
    found = find_account(session, email=core.email)
    if found is not None:
        if found["Name"] == core.name:
            plan.unchanged(resource, found["Id"])
        else:
            plan.record(resource, "adopt", f"{found['Id']} named {found['Name']!r}")
        return str(found["Id"])
    request_id = find_create_request(session, name=core.name)
    if request_id is not None:
        plan.record(resource, "create", f"resume {request_id}")
    else:
        request_id = plan.record(
            resource,
            "create",
            f"CreateAccount {core.name}",
            apply=lambda: start_account_creation(
                session, name=core.name, email=core.email, role_name=role_name, tags=tags
            ),
        )
    if request_id is None or plan.dry_run:
        return planned_id(f"{core.kind} account")
    return _await_account(session, request_id, core.email, poll_seconds, timeout_seconds)


def _await_account(
    session: boto3.Session, request_id: str, email: str, poll_seconds: float, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while True:
        status = creation_status(session, request_id)
        raise_for_failure(status, email=email, request_id=request_id)
        if status.state == "SUCCEEDED" and status.account_id:
            return status.account_id
        if time.monotonic() >= deadline:
            raise AccountCreationPending(f"CreateAccount {request_id} for {email} still running")
        time.sleep(poll_seconds)
