from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError

from bootstrap.changes import Plan
from bootstrap.config import OrgConfig
from bootstrap.emulator import Emulator
from bootstrap.errors import AccountCreationFailed, AllFeaturesNotEnabled, Throttled
from bootstrap.organization import (
    ensure_core_account,
    ensure_organization,
    ensure_ou_paths,
    ensure_policy,
    find_account,
    start_account_creation,
)
from bootstrap.policies import SCP_MAX_CHARS, compact, live_scp, vault_scp


def _org(aws: boto3.Session) -> Any:
    return aws.client("organizations")


def _ensure_core(aws: boto3.Session, config: OrgConfig, kind: str, plan: Plan) -> str:
    return ensure_core_account(
        aws,
        config.core_accounts[kind],
        role_name=config.member_role_name,
        tags=config.tags,
        plan=plan,
        poll_seconds=0.1,
    )


def _actions(plan: Plan) -> set[str]:
    return {c.action for c in plan.changes}


def test_ensure_organization_new_has_all_features_and_scps(aws: boto3.Session) -> None:
    root_id = ensure_organization(aws, plan=Plan())

    org = _org(aws)
    assert org.describe_organization()["Organization"]["FeatureSet"] == "ALL"
    root = org.list_roots()["Roots"][0]
    assert root["Id"] == root_id
    assert {"Type": "SERVICE_CONTROL_POLICY", "Status": "ENABLED"} in root["PolicyTypes"]
    again = Plan()
    assert ensure_organization(aws, plan=again) == root_id
    assert _actions(again) == {"unchanged"}


def test_ensure_organization_consolidated_billing_raises_with_advice(aws: boto3.Session) -> None:
    _org(aws).create_organization(FeatureSet="CONSOLIDATED_BILLING")
    plan = Plan()

    with pytest.raises(AllFeaturesNotEnabled) as caught:
        ensure_organization(aws, plan=plan)

    assert "Enable all features" in caught.value.advice
    assert [(c.resource, c.action) for c in plan.changes] == [("organization", "update")]


def test_ensure_ou_paths_shared_parent_made_once_and_reused(aws: boto3.Session) -> None:
    root_id = ensure_organization(aws, plan=Plan())
    plan = Plan()

    ids = ensure_ou_paths(aws, root_id, ["Streams/Live", "Streams/DevTest"], plan=plan)

    org = _org(aws)
    streams = org.list_organizational_units_for_parent(ParentId=root_id)["OrganizationalUnits"]
    assert [ou["Name"] for ou in streams] == ["Streams"]
    children = org.list_organizational_units_for_parent(ParentId=streams[0]["Id"])
    by_name = {ou["Name"]: ou["Id"] for ou in children["OrganizationalUnits"]}
    assert ids == {"Streams/Live": by_name["Live"], "Streams/DevTest": by_name["DevTest"]}
    assert [c.resource for c in plan.changes].count("OU Streams") == 1
    again = Plan()
    assert ensure_ou_paths(aws, root_id, ["Streams/Live", "Streams/DevTest"], plan=again) == ids
    assert _actions(again) == {"unchanged"}


def test_ensure_core_account_existing_email_adopted_not_duplicated(
    aws: boto3.Session, emulator: Emulator, org_config: OrgConfig
) -> None:
    ensure_organization(aws, plan=Plan())
    emulator.create_seconds = 0
    org = _org(aws)
    org.create_account(AccountName="legacy-users", Email="AWS+Users@example.com")
    existing = find_account(aws, email="aws+users@example.com")
    assert existing is not None
    plan = Plan()

    account_id = _ensure_core(aws, org_config, "users", plan)

    assert account_id == existing["Id"]
    assert _actions(plan) == {"adopt"}
    emails = [a["Email"].lower() for a in org.list_accounts()["Accounts"]]
    assert emails.count("aws+users@example.com") == 1


def test_ensure_core_account_in_progress_request_resumed(
    aws: boto3.Session, org_config: OrgConfig, emulator: Emulator
) -> None:
    emulator.create_seconds = 3.0
    ensure_organization(aws, plan=Plan())
    core = org_config.core_accounts["rnd"]
    request_id = start_account_creation(
        aws, name=core.name, email=core.email, role_name="OrganizationAccountAccessRole", tags={}
    )
    plan = Plan()

    account_id = _ensure_core(aws, org_config, "rnd", plan)

    assert [c.detail for c in plan.changes] == [f"resume {request_id}"]
    status = _org(aws).describe_create_account_status(CreateAccountRequestId=request_id)
    assert status["CreateAccountStatus"]["AccountId"] == account_id
    emails = [a["Email"] for a in _org(aws).list_accounts()["Accounts"]]
    assert emails.count(core.email) == 1


def test_ensure_core_account_failed_creation_raises_named_reason(
    aws: boto3.Session, emulator: Emulator, org_config: OrgConfig
) -> None:
    ensure_organization(aws, plan=Plan())
    emulator.fail_next_create("aws+vault@example.com", "ACCOUNT_LIMIT_EXCEEDED")

    with pytest.raises(AccountCreationFailed) as caught:
        _ensure_core(aws, org_config, "vault", Plan())

    assert caught.value.code == "AccountCreationFailed.ACCOUNT_LIMIT_EXCEEDED"
    assert "aws+vault@example.com" in caught.value.message


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Any:
        yield self._body


def test_start_account_creation_throttled_sent_once_and_raises_throttled(
    aws: boto3.Session,
) -> None:
    ensure_organization(aws, plan=Plan())
    sent: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        body = json.dumps({"__type": "TooManyRequestsException", "Message": "slow down"})
        return AWSResponse(request.url, 400, {}, _Body(body.encode()))

    aws.events.register("before-send.organizations.CreateAccount", throttle)

    with pytest.raises(Throttled):
        start_account_creation(aws, name="x", email="x@example.com", role_name="r", tags={})

    assert len(sent) == 1


def test_ensure_policy_drifted_content_and_detachment_repaired(aws: boto3.Session) -> None:
    root_id = ensure_organization(aws, plan=Plan())
    ou_id = ensure_ou_paths(aws, root_id, ["Vault"], plan=Plan())["Vault"]
    document = vault_scp(audit_role="audit", member_role="member")
    policy_id = ensure_policy(aws, name="p", document=document, target_id=ou_id, plan=Plan())
    org = _org(aws)
    org.update_policy(PolicyId=policy_id, Content=compact({**document, "Statement": []}))
    org.detach_policy(PolicyId=policy_id, TargetId=ou_id)
    plan = Plan()

    assert ensure_policy(aws, name="p", document=document, target_id=ou_id, plan=plan) == policy_id

    assert [c.action for c in plan.changes] == ["repair", "repair"]
    content = org.describe_policy(PolicyId=policy_id)["Policy"]["Content"]
    assert json.loads(content) == document
    targets = org.list_targets_for_policy(PolicyId=policy_id)["Targets"]
    assert [t["TargetId"] for t in targets] == [ou_id]


def test_ensure_organization_dry_run_creates_nothing(aws: boto3.Session) -> None:
    plan = Plan(dry_run=True)

    root_id = ensure_organization(aws, plan=plan)
    ids = ensure_ou_paths(aws, root_id, ["Streams/Live"], plan=plan)

    assert root_id.startswith("(") and ids["Streams/Live"].startswith("(")
    assert _actions(plan) == {"create"}
    with pytest.raises(ClientError, match="AWSOrganizationsNotInUseException"):
        _org(aws).list_roots()


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document["Statement"])


def test_vault_scp_fits_limit_and_exempts_only_audit_and_member(org_config: OrgConfig) -> None:
    document = vault_scp(audit_role=org_config.audit_role, member_role=org_config.member_role_name)

    assert len(compact(document)) <= SCP_MAX_CHARS
    assert json.loads(compact(document)) == document
    for statement in _statements(document):
        assert statement["Effect"] == "Deny"
        assert statement["Condition"] == {
            "ArnNotLike": {
                "aws:PrincipalArn": [
                    "arn:aws:iam::*:role/useraccount-audit",
                    "arn:aws:iam::*:role/OrganizationAccountAccessRole",
                ]
            }
        }
    denied = {a for s in _statements(document) for a in s["Action"]}
    assert {"s3:Put*", "s3:Delete*", "cloudtrail:StopLogging", "kms:ScheduleKeyDeletion"} <= denied


def test_live_scp_protects_standard_and_member_roles(org_config: OrgConfig) -> None:
    protected = [r.name for r in org_config.roles_for("live")]
    member = org_config.member_role_name
    document = live_scp(protected_roles=protected, member_role=member)

    assert len(compact(document)) <= SCP_MAX_CHARS
    assert all(s["Effect"] == "Deny" for s in _statements(document))
    by_sid = {s["Sid"]: s for s in _statements(document)}
    assert by_sid["StayInOrganization"]["Action"] == "organizations:LeaveOrganization"
    assert "Condition" not in by_sid["StayInOrganization"]
    roles = by_sid["ProtectStandardRoles"]
    assert set(roles["Resource"]) == {f"arn:aws:iam::*:role/{r}" for r in [*protected, member]}
    assert {"iam:UpdateAssumeRolePolicy", "iam:DeleteRole", "iam:AttachRolePolicy"} <= set(
        roles["Action"]
    )
    exempt = {"ArnNotLike": {"aws:PrincipalArn": [f"arn:aws:iam::*:role/{member}"]}}
    assert roles["Condition"] == exempt
    assert by_sid["KeepTrail"]["Condition"] == exempt
