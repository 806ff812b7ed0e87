"""The users account: the only IAM users, who may do nothing but look after their own
credentials and assume the standard roles elsewhere.

Every standard role gets a group of the same name whose only policy is ``assume-<role>``.
Every user gets ``self-service``. People named ``<name>-admin`` are IAM admins: they manage
users and group membership, never policies. Anything orgvend finds on its own groups beyond
that is drift and removed.
"""

from __future__ import annotations

import json
from functools import partial
from typing import Any
from urllib.parse import unquote

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.changes import Plan
from bootstrap.config import OrgConfig
from bootstrap.policies import (
    IAM_ADMINS_GROUP,
    SELF_SERVICE_POLICY,
    iam_admin_policy,
    self_service_policy,
    users_assume_policy,
)

__all__ = [
    "ADMIN_SUFFIX",
    "IAM_ADMIN_POLICY",
    "assume_policy_name",
    "ensure_demo_users",
    "ensure_users_account",
]

ADMIN_SUFFIX = "-admin"
IAM_ADMIN_POLICY = "iam-user-admin"
_MAX_POLICY_VERSIONS = 5


def assume_policy_name(role_name: str) -> str:
    return f"assume-{role_name}"


def ensure_users_account(
    users_session: boto3.Session, config: OrgConfig, *, users_account_id: str, plan: Plan
) -> None:
    """Groups and policies for every standard role, self-service for all, the IAM admins."""
    iam = client(users_session, "iam")
    for role in config.standard_roles:
        name = assume_policy_name(role.name)
        arn = _ensure_managed_policy(
            iam, users_account_id, name, users_assume_policy(role.name), plan
        )
        _ensure_group_policy(iam, role.name, arn, plan, new=_ensure_group(iam, role.name, plan))
    self_service = _ensure_managed_policy(
        iam, users_account_id, SELF_SERVICE_POLICY, self_service_policy(), plan
    )
    admin = _ensure_managed_policy(
        iam, users_account_id, IAM_ADMIN_POLICY, iam_admin_policy(users_account_id), plan
    )
    admins_new = _ensure_group(iam, IAM_ADMINS_GROUP, plan)
    _ensure_group_policy(iam, IAM_ADMINS_GROUP, admin, plan, new=admins_new)
    users = _user_names(iam)
    for user in users:
        _ensure_user_policy(iam, user, self_service, plan)
    _ensure_admins(iam, users, plan, new=admins_new)


def ensure_demo_users(
    users_session: boto3.Session, names: list[str], *, plan: Plan, groups: dict[str, list[str]]
) -> None:
    """Sandbox people: each user in ``names`` created and put in ``groups[user]``.

    Missing groups are created bare; :func:`ensure_users_account` gives them their policy.
    """
    iam = client(users_session, "iam")
    existing = set(_user_names(iam))
    new_groups = {
        group: _ensure_group(iam, group, plan)
        for group in sorted({g for name in names for g in groups.get(name, [])})
    }
    for name in names:
        new_user = name not in existing
        if new_user:
            plan.record(
                f"IAM user {name}",
                "create",
                "demo user",
                apply=partial(
                    iam.create_user, UserName=name, Tags=[{"Key": "orgvend:demo", "Value": "true"}]
                ),
            )
        else:
            plan.unchanged(f"IAM user {name}")
        current = set() if new_user else _groups_of(iam, name)
        for group in groups.get(name, []):
            resource = f"IAM user {name} in group {group}"
            if group in current:
                plan.unchanged(resource)
                continue
            action = "create" if new_user or new_groups[group] else "repair"
            plan.record(
                resource,
                action,
                apply=partial(iam.add_user_to_group, GroupName=group, UserName=name),
            )


def _user_names(iam: Any) -> list[str]:
    return [
        u["UserName"] for page in iam.get_paginator("list_users").paginate() for u in page["Users"]
    ]


def _groups_of(iam: Any, user: str) -> set[str]:
    pages = iam.get_paginator("list_groups_for_user").paginate(UserName=user)
    return {g["GroupName"] for page in pages for g in page["Groups"]}


def _ensure_group(iam: Any, name: str, plan: Plan) -> bool:
    """Whether the group is new: created now, or to be created in a dry run."""
    try:
        iam.get_group(GroupName=name, MaxItems=1)
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        plan.record(f"IAM group {name}", "create", apply=partial(iam.create_group, GroupName=name))
        return True
    plan.unchanged(f"IAM group {name}")
    return False


def _ensure_group_policy(iam: Any, group: str, arn: str, plan: Plan, *, new: bool) -> None:
    """``arn`` is attached to ``group`` and nothing else is: no managed, no inline policy.

    A group with no policy at all was made bare (by a person, or for demo users): attaching
    to it is a create. Anything else missing or extra is drift.
    """
    resource = f"IAM group {group} policy {arn.rsplit('/', 1)[-1]}"
    attached: set[str] = set()
    inline: list[str] = []
    if not new:
        pages = iam.get_paginator("list_attached_group_policies").paginate(GroupName=group)
        attached = {p["PolicyArn"] for page in pages for p in page["AttachedPolicies"]}
        inline_pages = iam.get_paginator("list_group_policies").paginate(GroupName=group)
        inline = [n for page in inline_pages for n in page["PolicyNames"]]
    for extra in sorted(attached - {arn}):
        detach = partial(iam.detach_group_policy, GroupName=group, PolicyArn=extra)
        plan.record(f"IAM group {group}", "repair", f"detach {extra}", apply=detach)
    for name in inline:
        delete = partial(iam.delete_group_policy, GroupName=group, PolicyName=name)
        plan.record(f"IAM group {group}", "repair", f"delete inline policy {name}", apply=delete)
    if arn in attached:
        plan.unchanged(resource)
        return
    action = "create" if not attached and not inline else "repair"
    attach = partial(iam.attach_group_policy, GroupName=group, PolicyArn=arn)
    plan.record(resource, action, "attach", apply=attach)


def _ensure_user_policy(iam: Any, user: str, arn: str, plan: Plan) -> None:
    resource = f"IAM user {user} policy {arn.rsplit('/', 1)[-1]}"
    pages = iam.get_paginator("list_attached_user_policies").paginate(UserName=user)
    if any(p["PolicyArn"] == arn for page in pages for p in page["AttachedPolicies"]):
        plan.unchanged(resource)
        return
    attach = partial(iam.attach_user_policy, UserName=user, PolicyArn=arn)
    plan.record(resource, "repair", "attach", apply=attach)


def _ensure_admins(iam: Any, users: list[str], plan: Plan, *, new: bool) -> None:
    """``iam-admins`` holds exactly the users named ``*-admin``."""
    members: set[str] = set()
    if not new:
        pages = iam.get_paginator("get_group").paginate(GroupName=IAM_ADMINS_GROUP)
        members = {u["UserName"] for page in pages for u in page["Users"]}
    for user in users:
        resource = f"IAM user {user} in group {IAM_ADMINS_GROUP}"
        wanted = user.endswith(ADMIN_SUFFIX)
        if wanted and user not in members:
            add = partial(iam.add_user_to_group, GroupName=IAM_ADMINS_GROUP, UserName=user)
            plan.record(resource, "update", "name ends with -admin", apply=add)
        elif not wanted and user in members:
            remove = partial(iam.remove_user_from_group, GroupName=IAM_ADMINS_GROUP, UserName=user)
            plan.record(resource, "repair", "remove: name does not end with -admin", apply=remove)
        elif wanted:
            plan.unchanged(resource)


def _ensure_managed_policy(
    iam: Any, account_id: str, name: str, document: dict[str, Any], plan: Plan
) -> str:
    """The customer-managed policy ``name`` has ``document`` as its default version; its ARN."""
    arn = f"arn:aws:iam::{account_id}:policy/{name}"
    resource = f"IAM policy {name}"
    try:
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
        create = partial(
            iam.create_policy,
            PolicyName=name,
            PolicyDocument=json.dumps(document),
            Description="Managed by orgvend: changes are reverted by the bootstrap",
        )
        plan.record(resource, "create", apply=create)
        return arn
    stored = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
    if _document(stored) == document:
        plan.unchanged(resource, version)
    else:
        plan.record(
            resource,
            "repair",
            f"default version {version} drifted",
            apply=partial(_set_default_version, iam, arn, document),
        )
    return arn


def _document(stored: Any) -> Any:
    """IAM returns the document URL-encoded; boto3 usually decodes it already."""
    return json.loads(unquote(stored)) if isinstance(stored, str) else stored


def _set_default_version(iam: Any, arn: str, document: dict[str, Any]) -> None:
    """A new default version; the oldest non-default goes first when IAM's five are used."""
    versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
    if len(versions) >= _MAX_POLICY_VERSIONS:
        oldest = min(
            (v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"]
        )
        iam.delete_policy_version(PolicyArn=arn, VersionId=oldest["VersionId"])
    iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True)
