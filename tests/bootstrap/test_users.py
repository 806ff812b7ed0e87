"""The users account's IAM, read back from IAM itself.

The management session stands in for the users account here: the functions only need a
session inside the account they manage. The landing-zone tests cover the real member account.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from bootstrap.changes import Plan
from bootstrap.config import OrgConfig
from bootstrap.policies import iam_admin_policy
from bootstrap.users import ensure_demo_users, ensure_users_account

ACCOUNT = "123456789012"
POLICY_OR_ROLE_MANAGEMENT = {
    "iam:AttachUserPolicy",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:PutUserPolicy",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:CreatePolicy",
    "iam:CreatePolicyVersion",
    "iam:SetDefaultPolicyVersion",
    "iam:DeletePolicy",
    "iam:DetachGroupPolicy",
    "iam:CreateRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PassRole",
    "iam:PutUserPermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:CreateGroup",
    "iam:DeleteGroup",
}


@pytest.fixture
def iam(aws: boto3.Session) -> Any:
    return aws.client("iam")


def _ensure(aws: boto3.Session, config: OrgConfig, plan: Plan | None = None) -> Plan:
    plan = plan or Plan()
    ensure_users_account(aws, config, users_account_id=ACCOUNT, plan=plan)
    return plan


def _document(iam: Any, name: str) -> dict[str, Any]:
    arn = f"arn:aws:iam::{ACCOUNT}:policy/{name}"
    version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
    document = iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]
    return dict(document["Document"])


def _listed(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def _attached(iam: Any, *, user: str | None = None, group: str | None = None) -> set[str]:
    if user is not None:
        reply = iam.list_attached_user_policies(UserName=user)
    else:
        reply = iam.list_attached_group_policies(GroupName=group)
    return {p["PolicyName"] for p in reply["AttachedPolicies"]}


def _members(iam: Any, group: str) -> set[str]:
    return {u["UserName"] for u in iam.get_group(GroupName=group)["Users"]}


def test_ensure_users_account_assume_policies_allow_only_assume_role(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    _ensure(aws, org_config)

    for role in org_config.standard_roles:
        statements = _document(iam, f"assume-{role.name}")["Statement"]
        assert statements == [
            {
                "Sid": "AssumeStandardRole",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": f"arn:aws:iam::*:role/{role.name}",
                "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
            }
        ]
        assert _attached(iam, group=role.name) == {f"assume-{role.name}"}
        assert iam.list_group_policies(GroupName=role.name)["PolicyNames"] == []


def test_ensure_users_account_self_service_denies_everything_without_mfa(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    _ensure(aws, org_config)

    statements = _document(iam, "self-service")["Statement"]
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert len(denies) == 1
    deny = denies[0]
    assert deny["Resource"] == "*"
    assert deny["Condition"] == {"BoolIfExists": {"aws:MultiFactorAuthPresent": "false"}}
    assert "Action" not in deny
    assert "sts:AssumeRole" not in deny["NotAction"]
    assert all(a.startswith(("iam:", "sts:GetSessionToken")) for a in deny["NotAction"])
    own = {"arn:aws:iam::*:user/${aws:username}", "arn:aws:iam::*:mfa/${aws:username}"}
    for allow in (s for s in statements if s["Effect"] == "Allow"):
        resources = set(_listed(allow["Resource"]))
        if resources == {"*"}:
            assert set(_listed(allow["Action"])) == {
                "iam:GetAccountPasswordPolicy",
                "iam:ListVirtualMFADevices",
            }
        else:
            assert resources <= own
        assert all(a.startswith("iam:") for a in _listed(allow["Action"]))


def test_ensure_users_account_every_user_gets_self_service(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    for name in ("alice", "bob", "alice-admin"):
        iam.create_user(UserName=name)

    plan = _ensure(aws, org_config)

    for name in ("alice", "bob", "alice-admin"):
        assert _attached(iam, user=name) == {"self-service"}
    repaired = {c.resource for c in plan.changes if c.action == "repair"}
    assert "IAM user bob policy self-service" in repaired


def test_ensure_users_account_iam_admins_only_admin_named_users(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    iam.create_user(UserName="alice")
    iam.create_user(UserName="alice-admin")
    _ensure(aws, org_config)
    assert _members(iam, "iam-admins") == {"alice-admin"}
    iam.add_user_to_group(GroupName="iam-admins", UserName="alice")

    plan = _ensure(aws, org_config)

    assert _members(iam, "iam-admins") == {"alice-admin"}
    assert [(c.resource, c.action) for c in plan.changed] == [
        ("IAM user alice in group iam-admins", "repair")
    ]
    assert _attached(iam, group="iam-admins") == {"iam-user-admin"}


def test_ensure_users_account_iam_admin_policy_grants_no_policy_or_role_management(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    _ensure(aws, org_config)

    document = _document(iam, "iam-user-admin")
    assert document == iam_admin_policy(ACCOUNT)
    for statement in document["Statement"]:
        actions = set(_listed(statement["Action"]))
        assert not any("*" in a for a in actions)
        if statement["Effect"] == "Allow":
            assert not actions & POLICY_OR_ROLE_MANAGEMENT
            assert statement["Condition"]["Bool"] == {"aws:MultiFactorAuthPresent": "true"}
            assert not any("Role" in a for a in actions)
            assert all(f"::{ACCOUNT}:" in r for r in _listed(statement["Resource"]) if r != "*")
    detach = [s for s in document["Statement"] if "iam:DetachUserPolicy" in _listed(s["Action"])]
    assert [s["Condition"]["ArnEquals"] for s in detach] == [
        {"iam:PolicyARN": f"arn:aws:iam::{ACCOUNT}:policy/self-service"}
    ]


def test_ensure_users_account_drifted_policy_version_repaired_with_versions_full(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    _ensure(aws, org_config)
    arn = f"arn:aws:iam::{ACCOUNT}:policy/assume-useraccount-readonly"
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    for _ in range(4):
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=json.dumps(wide), SetAsDefault=True)

    plan = _ensure(aws, org_config)

    assert [(c.resource, c.action) for c in plan.changed] == [
        ("IAM policy assume-useraccount-readonly", "repair")
    ]
    assert _document(iam, "assume-useraccount-readonly")["Statement"][0]["Action"] == (
        "sts:AssumeRole"
    )
    assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) == 5


def test_ensure_users_account_extra_group_policies_removed(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    _ensure(aws, org_config)
    group = "useraccount-fulladmin"
    iam.attach_group_policy(
        GroupName=group, PolicyArn="arn:aws:iam::aws:policy/AdministratorAccess"
    )
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    iam.put_group_policy(GroupName=group, PolicyName="extra", PolicyDocument=json.dumps(wide))

    plan = _ensure(aws, org_config)

    assert {c.action for c in plan.changed} == {"repair"}
    assert len(plan.changed) == 2
    assert _attached(iam, group=group) == {f"assume-{group}"}
    assert iam.list_group_policies(GroupName=group)["PolicyNames"] == []


def test_ensure_users_account_second_run_only_unchanged(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    iam.create_user(UserName="carol-admin")
    _ensure(aws, org_config)

    plan = _ensure(aws, org_config)

    assert plan.changed == []


def test_ensure_demo_users_creates_users_in_their_groups(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    plan = Plan()
    groups = {"dave": ["useraccount-readonly"]}
    ensure_demo_users(aws, ["dave", "dave-admin"], plan=plan, groups=groups)
    _ensure(aws, org_config, plan)

    assert _members(iam, "useraccount-readonly") == {"dave"}
    assert _members(iam, "iam-admins") == {"dave-admin"}
    assert _attached(iam, user="dave") == {"self-service"}
    assert _attached(iam, group="useraccount-readonly") == {"assume-useraccount-readonly"}
    again = Plan()
    ensure_demo_users(aws, ["dave", "dave-admin"], plan=again, groups=groups)
    assert again.changed == []


def test_ensure_users_account_dry_run_writes_nothing(
    aws: boto3.Session, iam: Any, org_config: OrgConfig
) -> None:
    iam.create_user(UserName="erin")
    plan = Plan(dry_run=True)

    _ensure(aws, org_config, plan)

    assert {c.action for c in plan.changed} >= {"create", "repair"}
    assert iam.list_policies(Scope="Local")["Policies"] == []
    assert iam.list_groups()["Groups"] == []
    assert iam.list_attached_user_policies(UserName="erin")["AttachedPolicies"] == []
