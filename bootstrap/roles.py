"""The standard roles inside a member account: one trust, one shape, drift repaired.

Consistent names and trusts are what let the users account grant
``arn:aws:iam::*:role/useraccount-fulladmin``. Every role trusts only the users account and only
with MFA; there is no way here to build or keep a trust without that condition.
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.changes import Plan
from bootstrap.config import OrgConfig, StandardRole
from bootstrap.errors import RoleInstallationDenied

__all__ = [
    "INLINE_POLICY_NAME",
    "STANDARD_ROLE_TAG",
    "ensure_role",
    "ensure_standard_roles",
    "has_mfa_condition",
    "trust_policy",
]

INLINE_POLICY_NAME = "orgvend-inline"
STANDARD_ROLE_TAG = "orgvend:standard-role"
_MFA_CONDITION = {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
_DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"}

_Write = tuple[str, str, Callable[[], Any]]
"""``(action, detail, apply)`` for one pending write to a role."""


def trust_policy(users_account_id: str) -> dict[str, Any]:
    """The only trust a standard role may carry: the users account, with MFA."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{users_account_id}:root"},
                "Action": "sts:AssumeRole",
                "Condition": _MFA_CONDITION,
            }
        ],
    }


def has_mfa_condition(document: dict[str, Any]) -> bool:
    """True when every statement that allows anything demands ``aws:MultiFactorAuthPresent``.

    One unconditioned Allow is enough to let a password alone in, so all of them must carry it.
    """
    statements = document.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    allows = [s for s in statements if s.get("Effect") == "Allow"]
    if not allows:
        return False
    for statement in allows:
        flag = statement.get("Condition", {}).get("Bool", {}).get("aws:MultiFactorAuthPresent")
        if str(flag).lower() != "true":
            return False
    return True


def ensure_standard_roles(
    member_session: boto3.Session,
    config: OrgConfig,
    *,
    kind: str,
    users_account_id: str,
    plan: Plan,
    account_label: str = "",
) -> list[str]:
    """Ensure every standard role an account of ``kind`` carries; returns their names."""
    roles = config.roles_for(kind)
    for role in roles:
        ensure_role(
            member_session,
            role,
            users_account_id=users_account_id,
            tags=config.tags,
            plan=plan,
            account_label=account_label or kind,
        )
    return [role.name for role in roles]


def ensure_role(
    member_session: boto3.Session,
    role: StandardRole,
    *,
    users_account_id: str,
    tags: dict[str, str],
    plan: Plan,
    account_label: str,
) -> None:
    """Create ``role`` or repair its drift; a role already as configured records "unchanged"."""
    iam = client(member_session, "iam")
    resource = f"{account_label}/iam-role/{role.name}"
    trust = trust_policy(users_account_id)
    wanted_tags = {**tags, STANDARD_ROLE_TAG: "true"}
    try:
        current = _get_role(iam, role.name)
        if current is None:
            writes = [("create", "", lambda: _create_role(iam, role, trust, wanted_tags))]
            writes += _policy_writes(iam, role, attached=set(), inline=None, action="create")
        else:
            writes = _role_writes(iam, role, current, trust)
            attached, inline = _attached(iam, role.name), _inline(iam, role.name)
            writes += _policy_writes(iam, role, attached=attached, inline=inline, action="repair")
            writes += _tag_writes(iam, role.name, wanted_tags)
    except ClientError as exc:
        _raise_if_denied(exc, role, account_label)
        raise
    _apply(plan, resource, writes, role, account_label)


def _apply(
    plan: Plan, resource: str, writes: list[_Write], role: StandardRole, account_label: str
) -> None:
    if not writes:
        plan.unchanged(resource)
    try:
        for action, detail, apply in writes:
            plan.record(resource, action, detail, apply=apply)
    except ClientError as exc:
        _raise_if_denied(exc, role, account_label)
        raise


def _raise_if_denied(exc: ClientError, role: StandardRole, account_label: str) -> None:
    if error_code(exc) in _DENIED:
        raise RoleInstallationDenied(
            f"IAM refused to install standard role {role.name} in account {account_label}: "
            f"{error_code(exc)}. {RoleInstallationDenied.advice}"
        ) from exc


def _parse(document: str | dict[str, Any]) -> dict[str, Any]:
    """IAM returns policy documents url-encoded; moto sometimes as a dict already."""
    if isinstance(document, dict):
        return document
    parsed: dict[str, Any] = json.loads(urllib.parse.unquote(document))
    return parsed


def _get_role(iam: Any, name: str) -> dict[str, Any] | None:
    try:
        role: dict[str, Any] = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if error_code(exc) == "NoSuchEntity":
            return None
        raise
    return role


def _trust_json(name: str, document: dict[str, Any]) -> str:
    """The one gate every trust passes on its way to IAM."""
    if not has_mfa_condition(document):
        raise ValueError(f"refusing to give role {name} a trust that does not require MFA")
    return json.dumps(document)


def _create_role(iam: Any, role: StandardRole, trust: dict[str, Any], tags: dict[str, str]) -> None:
    optional = {"Description": role.description} if role.description else {}
    iam.create_role(
        RoleName=role.name,
        AssumeRolePolicyDocument=_trust_json(role.name, trust),
        MaxSessionDuration=role.max_session_seconds,
        Tags=[{"Key": k, "Value": v} for k, v in sorted(tags.items())],
        **optional,
    )


def _role_writes(
    iam: Any, role: StandardRole, current: dict[str, Any], trust: dict[str, Any]
) -> list[_Write]:
    writes: list[_Write] = []
    found = _parse(current["AssumeRolePolicyDocument"])
    if found != trust:
        why = "trust differs" if has_mfa_condition(found) else "trust did not require MFA"
        apply = _bind(
            iam.update_assume_role_policy,
            RoleName=role.name,
            PolicyDocument=_trust_json(role.name, trust),
        )
        writes.append(("repair", why, apply))
    session = current.get("MaxSessionDuration", 3600)
    description = current.get("Description", "")
    if session != role.max_session_seconds or description != role.description:
        apply = _bind(
            iam.update_role,
            RoleName=role.name,
            Description=role.description,
            MaxSessionDuration=role.max_session_seconds,
        )
        writes.append(("update", f"max session {role.max_session_seconds}s, description", apply))
    return writes


def _attached(iam: Any, name: str) -> set[str]:
    pages = iam.get_paginator("list_attached_role_policies").paginate(RoleName=name)
    return {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}


def _inline(iam: Any, name: str) -> dict[str, Any] | None:
    pages = iam.get_paginator("list_role_policies").paginate(RoleName=name)
    if INLINE_POLICY_NAME not in {n for page in pages for n in page["PolicyNames"]}:
        return None
    reply = iam.get_role_policy(RoleName=name, PolicyName=INLINE_POLICY_NAME)
    return _parse(reply["PolicyDocument"])


def _policy_writes(
    iam: Any,
    role: StandardRole,
    *,
    attached: set[str],
    inline: dict[str, Any] | None,
    action: str,
) -> list[_Write]:
    """Attachments and the inline policy; ``action`` says whether the role is new or drifted."""
    writes: list[_Write] = []
    for arn in role.managed_policies:
        if arn not in attached:
            apply = _bind(iam.attach_role_policy, RoleName=role.name, PolicyArn=arn)
            writes.append((action, f"attach {arn}", apply))
    for arn in sorted(attached - set(role.managed_policies)):
        apply = _bind(iam.detach_role_policy, RoleName=role.name, PolicyArn=arn)
        writes.append(("repair", f"detach {arn}", apply))
    if role.inline_policy is not None and inline != role.inline_policy:
        document = json.dumps(role.inline_policy)
        apply = _bind(
            iam.put_role_policy,
            RoleName=role.name,
            PolicyName=INLINE_POLICY_NAME,
            PolicyDocument=document,
        )
        writes.append((action, f"inline policy {INLINE_POLICY_NAME}", apply))
    elif role.inline_policy is None and inline is not None:
        apply = _bind(iam.delete_role_policy, RoleName=role.name, PolicyName=INLINE_POLICY_NAME)
        writes.append(("repair", f"remove inline policy {INLINE_POLICY_NAME}", apply))
    return writes


def _tag_writes(iam: Any, name: str, wanted: dict[str, str]) -> list[_Write]:
    pages = iam.get_paginator("list_role_tags").paginate(RoleName=name)
    found = {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}
    missing = {k: v for k, v in wanted.items() if found.get(k) != v}
    if not missing:
        return []
    tags = [{"Key": k, "Value": v} for k, v in sorted(missing.items())]
    return [
        (
            "repair",
            "tags " + ", ".join(sorted(missing)),
            _bind(iam.tag_role, RoleName=name, Tags=tags),
        )
    ]


def _bind(call: Callable[..., Any], **kwargs: Any) -> Callable[[], Any]:
    """A write with its arguments fixed now, so a loop's variables cannot shift under it."""
    return lambda: call(**kwargs)
