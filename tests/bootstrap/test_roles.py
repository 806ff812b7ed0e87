"""Standard roles, read back from the emulated IAM of a real member account."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bootstrap.aws import member_session
from bootstrap.changes import Plan
from bootstrap.config import OrgConfig, StandardRole
from bootstrap.errors import RoleInstallationDenied
from bootstrap.roles import (
    ensure_role,
    ensure_standard_roles,
    has_mfa_condition,
    trust_policy,
)

USERS = "210987654321"
READ_ONLY = "arn:aws:iam::aws:policy/ReadOnlyAccess"
SECURITY_AUDIT = "arn:aws:iam::aws:policy/SecurityAudit"


def _member(aws: boto3.Session, name: str = "devtest") -> boto3.Session:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    request = org.create_account(AccountName=name, Email=f"{name}@example.com")
    request_id = request["CreateAccountStatus"]["Id"]
    for _ in range(100):
        status = org.describe_create_account_status(CreateAccountRequestId=request_id)
        if status["CreateAccountStatus"]["State"] == "SUCCEEDED":
            account_id = status["CreateAccountStatus"]["AccountId"]
            return member_session(aws, account_id, role_name="OrganizationAccountAccessRole")
        time.sleep(0.02)
    raise AssertionError("account creation did not succeed")


def _trust(member: boto3.Session, name: str) -> dict[str, Any]:
    document = member.client("iam").get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]
    return document if isinstance(document, dict) else json.loads(document)


def _attached(member: boto3.Session, name: str) -> set[str]:
    reply = member.client("iam").list_attached_role_policies(RoleName=name)
    return {p["PolicyArn"] for p in reply["AttachedPolicies"]}


def _ensure(member: boto3.Session, role: StandardRole, plan: Plan) -> None:
    ensure_role(
        member,
        role,
        users_account_id=USERS,
        tags={"managed-by": "orgvend"},
        plan=plan,
        account_label="devtest",
    )


def test_ensure_standard_roles_trust_only_users_account_with_mfa(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    member = _member(aws)
    names = ensure_standard_roles(
        member, org_config, kind="devtest", users_account_id=USERS, plan=Plan()
    )
    assert names == ["useraccount-fulladmin", "useraccount-readonly"]
    for name in names:
        [statement] = _trust(member, name)["Statement"]
        assert statement["Principal"] == {"AWS": f"arn:aws:iam::{USERS}:root"}
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_ensure_standard_roles_attach_configured_policies_session_and_tags(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    member = _member(aws, "vault")
    ensure_standard_roles(member, org_config, kind="vault", users_account_id=USERS, plan=Plan())
    iam = member.client("iam")
    role = iam.get_role(RoleName="useraccount-audit")["Role"]
    tags = {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName="useraccount-audit")["Tags"]}
    assert _attached(member, "useraccount-audit") == {READ_ONLY, SECURITY_AUDIT}
    assert role["MaxSessionDuration"] == 3600
    assert role["Description"].startswith("The audit team's role")
    assert tags == {"orgvend:standard-role": "true", "managed-by": "orgvend"}


def test_ensure_standard_roles_second_run_is_all_unchanged(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    member = _member(aws)
    first, second = Plan(), Plan()
    ensure_standard_roles(member, org_config, kind="devtest", users_account_id=USERS, plan=first)
    ensure_standard_roles(member, org_config, kind="devtest", users_account_id=USERS, plan=second)
    assert {c.action for c in first.changes} == {"create"}
    assert second.changed == []
    assert [c.resource for c in second.changes] == [
        "devtest/iam-role/useraccount-fulladmin",
        "devtest/iam-role/useraccount-readonly",
    ]


@pytest.mark.parametrize(
    "drifted",
    [
        {
            "Effect": "Allow",
            "Principal": {"AWS": f"arn:aws:iam::{USERS}:root"},
            "Action": "sts:AssumeRole",
        },
        {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::999999999999:root"},
            "Action": "sts:AssumeRole",
            "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}},
        },
    ],
    ids=["without-mfa", "other-principal"],
)
def test_ensure_role_drifted_trust_is_repaired(
    aws: boto3.Session, org_config: OrgConfig, drifted: dict[str, Any]
) -> None:
    member = _member(aws)
    role = org_config.roles_for("devtest")[0]
    _ensure(member, role, Plan())
    member.client("iam").update_assume_role_policy(
        RoleName=role.name,
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [drifted]}),
    )
    plan = Plan()
    _ensure(member, role, plan)
    assert [c.action for c in plan.changes] == ["repair"]
    assert _trust(member, role.name) == trust_policy(USERS)


def test_ensure_role_extra_attached_policy_is_detached(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    member = _member(aws)
    role = next(r for r in org_config.roles_for("devtest") if r.name == "useraccount-readonly")
    _ensure(member, role, Plan())
    member.client("iam").attach_role_policy(RoleName=role.name, PolicyArn=SECURITY_AUDIT)
    plan = Plan()
    _ensure(member, role, plan)
    assert [(c.action, c.detail) for c in plan.changes] == [("repair", f"detach {SECURITY_AUDIT}")]
    assert _attached(member, role.name) == {READ_ONLY}


def test_ensure_role_inline_policy_is_put_then_removed(aws: boto3.Session) -> None:
    member = _member(aws)
    inline = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "iam:CreateUser", "Resource": "*"}],
    }
    with_inline = StandardRole(
        name="useraccount-limited",
        accounts=("devtest",),
        managed_policies=(READ_ONLY,),
        inline_policy=inline,
    )
    _ensure(member, with_inline, Plan())
    iam = member.client("iam")
    stored = iam.get_role_policy(RoleName=with_inline.name, PolicyName="orgvend-inline")
    assert stored["PolicyDocument"] == inline
    plan = Plan()
    _ensure(
        member,
        StandardRole(name=with_inline.name, accounts=("devtest",), managed_policies=(READ_ONLY,)),
        plan,
    )
    assert [c.action for c in plan.changes] == ["repair"]
    assert iam.list_role_policies(RoleName=with_inline.name)["PolicyNames"] == []


def test_ensure_role_dry_run_creates_nothing(aws: boto3.Session, org_config: OrgConfig) -> None:
    member = _member(aws)
    plan = Plan(dry_run=True)
    _ensure(member, org_config.roles_for("devtest")[0], plan)
    assert [c.action for c in plan.changes] == ["create", "create"]
    names = [r["RoleName"] for r in member.client("iam").list_roles()["Roles"]]
    assert names == ["OrganizationAccountAccessRole"]


def test_ensure_role_access_denied_names_role_and_account(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    member = _member(aws)

    def deny(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "SCP"}}, "CreateRole")

    member.events.register("before-call.iam.CreateRole", deny)
    with pytest.raises(RoleInstallationDenied, match=r"useraccount-fulladmin.*devtest"):
        _ensure(member, org_config.roles_for("devtest")[0], Plan())


def test_has_mfa_condition_refuses_any_unconditioned_allow() -> None:
    trust = trust_policy(USERS)
    loose = {"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}
    assert has_mfa_condition(trust)
    assert not has_mfa_condition({**trust, "Statement": [*trust["Statement"], loose]})
    assert not has_mfa_condition({"Version": "2012-10-17", "Statement": []})
