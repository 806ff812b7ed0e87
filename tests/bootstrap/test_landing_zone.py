from __future__ import annotations

import json
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bootstrap.aws import member_session
from bootstrap.changes import Plan
from bootstrap.config import CORE_KINDS, OrgConfig
from bootstrap.emulator import Emulator
from bootstrap.landing_zone import LIVE_SCP, VAULT_SCP, LandingZone, bootstrap_landing_zone
from bootstrap.store import DynamoRecordTable, TableNames

TABLES = TableNames()
DEMO = ("alice", "alice-admin")


def _bootstrap(aws: boto3.Session, config: OrgConfig, plan: Plan | None = None) -> Plan:
    plan = plan or Plan()
    bootstrap_landing_zone(aws, config, tables=TABLES, plan=plan, demo_users=DEMO, poll_seconds=0.1)
    return plan


def _zone(aws: boto3.Session, config: OrgConfig) -> LandingZone:
    return bootstrap_landing_zone(
        aws, config, tables=TABLES, plan=Plan(), demo_users=DEMO, poll_seconds=0.1
    )


def _inside(aws: boto3.Session, config: OrgConfig, account_id: str) -> Any:
    return member_session(aws, account_id, role_name=config.member_role_name).client("iam")


def _scps(org: Any, target_id: str) -> set[str]:
    reply = org.list_policies_for_target(TargetId=target_id, Filter="SERVICE_CONTROL_POLICY")
    return {p["Name"] for p in reply["Policies"]}


def test_bootstrap_landing_zone_twice_second_run_only_unchanged(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    zone = _zone(aws, org_config)

    plan = _bootstrap(aws, org_config)

    assert plan.changed == []
    org = aws.client("organizations")
    for kind in CORE_KINDS:
        parents = org.list_parents(ChildId=zone.accounts[kind])["Parents"]
        assert [p["Id"] for p in parents] == [zone.ou_ids[kind]]
        account = org.describe_account(AccountId=zone.accounts[kind])["Account"]
        assert account["Email"] == org_config.core_accounts[kind].email
    assert zone.accounts["management"] == "123456789012"
    assert VAULT_SCP in _scps(org, zone.ou_ids["vault"])
    assert LIVE_SCP in _scps(org, zone.ou_ids["live"])
    assert LIVE_SCP not in _scps(org, zone.ou_ids["devtest"])


def test_bootstrap_landing_zone_core_accounts_carry_roles_users_and_links(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    zone = _zone(aws, org_config)

    for kind in ("operations", "vault", "rnd"):
        iam = _inside(aws, org_config, zone.accounts[kind])
        roles = {r["RoleName"] for r in iam.list_roles()["Roles"]}
        assert {r.name for r in org_config.roles_for(kind)} <= roles
    users = _inside(aws, org_config, zone.accounts["users"])
    assert {u["UserName"] for u in users.list_users()["Users"]} == set(DEMO)
    admins = users.get_group(GroupName="iam-admins")["Users"]
    assert [u["UserName"] for u in admins] == ["alice-admin"]
    assert zone.hub_vpc_id is not None
    ops = member_session(aws, zone.accounts["operations"], role_name=org_config.member_role_name)
    vpcs = ops.client("ec2").describe_vpcs(VpcIds=[zone.hub_vpc_id])["Vpcs"]
    assert vpcs[0]["CidrBlock"] == str(org_config.network.operations_vpc_cidr)
    links = list(DynamoRecordTable(aws, TABLES.links).scan())
    linked = {(link["account_id"], link["role_name"]) for link in links}
    assert (zone.accounts["vault"], org_config.audit_role) in linked
    assert all(link["account_id"] != zone.accounts["users"] for link in links)


def test_bootstrap_landing_zone_precreated_users_account_adopted(
    aws: boto3.Session, emulator: Emulator, org_config: OrgConfig
) -> None:
    org = aws.client("organizations")
    org.create_organization(FeatureSet="ALL")
    emulator.create_seconds = 0
    reply = org.create_account(AccountName="people", Email=org_config.core_accounts["users"].email)
    existing = reply["CreateAccountStatus"]["AccountId"]

    plan = Plan()
    zone = bootstrap_landing_zone(aws, org_config, tables=TABLES, plan=plan, poll_seconds=0.1)

    assert zone.accounts["users"] == existing
    adopted = [c for c in plan.changes if c.action == "adopt"]
    assert [c.resource for c in adopted] == ["account users (aws+users@example.com)"]
    emails = [a["Email"] for a in org.list_accounts()["Accounts"]]
    assert emails.count(org_config.core_accounts["users"].email) == 1


def test_bootstrap_landing_zone_drift_repaired(aws: boto3.Session, org_config: OrgConfig) -> None:
    zone = _zone(aws, org_config)
    users = _inside(aws, org_config, zone.accounts["users"])
    self_service = f"arn:aws:iam::{zone.accounts['users']}:policy/self-service"
    users.detach_user_policy(UserName="alice", PolicyArn=self_service)
    assume = f"arn:aws:iam::{zone.accounts['users']}:policy/assume-useraccount-fulladmin"
    wide = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
    }
    users.create_policy_version(
        PolicyArn=assume, PolicyDocument=json.dumps(wide), SetAsDefault=True
    )
    org = aws.client("organizations")
    org.move_account(
        AccountId=zone.accounts["rnd"],
        SourceParentId=zone.ou_ids["rnd"],
        DestinationParentId=zone.root_id,
    )

    drift = {
        ("IAM user alice policy self-service", "repair"),
        ("IAM policy assume-useraccount-fulladmin", "repair"),
        (f"account rnd in OU {zone.ou_ids['rnd']}", "update"),
    }
    dry = _bootstrap(aws, org_config, Plan(dry_run=True))
    assert {(c.resource, c.action) for c in dry.changed} == drift
    assert org.list_parents(ChildId=zone.accounts["rnd"])["Parents"][0]["Id"] == zone.root_id

    plan = _bootstrap(aws, org_config)

    assert {(c.resource, c.action) for c in plan.changed} == drift
    parents = org.list_parents(ChildId=zone.accounts["rnd"])["Parents"]
    assert [p["Id"] for p in parents] == [zone.ou_ids["rnd"]]
    attached = users.list_attached_user_policies(UserName="alice")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [self_service]
    version = users.get_policy(PolicyArn=assume)["Policy"]["DefaultVersionId"]
    document = users.get_policy_version(PolicyArn=assume, VersionId=version)["PolicyVersion"]
    assert document["Document"]["Statement"][0]["Action"] == "sts:AssumeRole"


def test_bootstrap_landing_zone_dry_run_on_empty_org_creates_nothing(
    aws: boto3.Session, org_config: OrgConfig
) -> None:
    plan = Plan(dry_run=True)

    zone = bootstrap_landing_zone(
        aws, org_config, tables=TABLES, plan=plan, demo_users=DEMO, poll_seconds=0.1
    )

    created = {c.resource for c in plan.changes if c.action == "create"}
    assert "organization" in created
    assert {"OU Core", "OU Streams/Live", f"SCP {VAULT_SCP}", f"SCP {LIVE_SCP}"} <= created
    for kind in CORE_KINDS:
        assert f"account {kind} ({org_config.core_accounts[kind].email})" in created
        assert zone.accounts[kind].startswith("(")
    assert f"DynamoDB table {TABLES.links}" in created
    with pytest.raises(ClientError, match="AWSOrganizationsNotInUseException"):
        aws.client("organizations").list_roots()
    assert aws.client("dynamodb").list_tables()["TableNames"] == []
    assert aws.client("iam").list_users()["Users"] == []
