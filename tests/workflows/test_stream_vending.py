"""The real ASL file, run by the emulator's interpreter with real workers: a stream end to end."""

from __future__ import annotations

import json

import pytest
from vend_helpers import (
    accounts_with_email,
    history_states,
    inside,
    links_of,
    request,
    trust_of,
    vend,
    wait_until,
)

from bootstrap.landing_zone import LandingZone
from orgvend.sandbox import Sandbox


@pytest.fixture(scope="module")
def ready_events(sandbox: Sandbox) -> str:
    """A queue that receives every event on the orgvend bus."""
    assert sandbox.session is not None
    sqs = sandbox.session.client("sqs")
    events = sandbox.session.client("events")
    url = sqs.create_queue(QueueName="test-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    bus = sandbox.settings.event_bus_name
    events.put_rule(Name="all", EventBusName=bus, EventPattern=json.dumps({"source": ["orgvend"]}))
    events.put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": arn}])
    return str(url)


def _events(sandbox: Sandbox, url: str) -> list[dict[str, object]]:
    assert sandbox.session is not None
    sqs = sandbox.session.client("sqs")
    found = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if not batch.get("Messages"):
            return found
        found += [json.loads(m["Body"]) for m in batch["Messages"]]


def test_vend_stream_end_to_end_makes_both_accounts_ready(
    sandbox: Sandbox, ready_events: str
) -> None:
    vend(sandbox, request("payments"))
    record = wait_until(sandbox, "payments")
    assert record["status"] == "SUCCEEDED", record
    zone = sandbox.zone
    assert isinstance(zone, LandingZone) and sandbox.session is not None
    org = sandbox.session.client("organizations")
    users_id = zone.accounts["users"]
    for env in ("live", "devtest"):
        entry = record["accounts"][env]
        assert entry["status"] == "READY"
        account_id = entry["account_id"]
        parent = org.list_parents(ChildId=account_id)["Parents"][0]["Id"]
        assert parent == zone.ou_ids[env]
        member = inside(sandbox, account_id)
        for role in sandbox.config.roles_for(env):
            statement = trust_of(member, role.name)["Statement"][0]
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{users_id}:root"}
            assert statement["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        ec2 = member.client("ec2")
        peering = ec2.describe_vpc_peering_connections(
            VpcPeeringConnectionIds=[entry["peering_id"]]
        )["VpcPeeringConnections"][0]
        assert peering["Status"]["Code"] == "active"
        tables = ec2.describe_route_tables(
            Filters=[{"Name": "vpc-id", "Values": [entry["vpc_id"]]}]
        )["RouteTables"]
        ops_cidr = str(sandbox.config.network.operations_vpc_cidr)
        assert all(
            any(
                r.get("VpcPeeringConnectionId") == entry["peering_id"]
                and r["DestinationCidrBlock"] == ops_cidr
                for r in t["Routes"]
            )
            for t in tables
        )
        hub = inside(sandbox, zone.accounts["operations"]).client("ec2")
        hub_routes = [
            r
            for t in hub.describe_route_tables(
                Filters=[{"Name": "vpc-id", "Values": [zone.hub_vpc_id or ""]}]
            )["RouteTables"]
            for r in t["Routes"]
        ]
        assert any(
            r.get("VpcPeeringConnectionId") == entry["peering_id"]
            and r["DestinationCidrBlock"] == entry["cidr"]
            for r in hub_routes
        )
    links = links_of(sandbox, "payments")
    expected = {(env, r.name) for env in ("live", "devtest") for r in sandbox.config.roles_for(env)}
    assert {(link.environment, link.role_name) for link in links} == expected
    kinds = [e["detail-type"] for e in _events(sandbox, ready_events)]
    assert kinds == ["StreamReady"]


def test_vend_same_request_twice_makes_one_set_of_accounts(sandbox: Sandbox) -> None:
    first = vend(sandbox, request("twice"))
    again = vend(sandbox, request("twice"))
    assert again["execution_arn"] == first["execution_arn"]
    assert wait_until(sandbox, "twice")["status"] == "SUCCEEDED"
    after = vend(sandbox, request("twice"))
    assert after["execution_arn"] == first["execution_arn"]
    for env in ("live", "devtest"):
        email = sandbox.config.stream_email("twice", env)
        assert len(accounts_with_email(sandbox, email)) == 1


def test_vend_existing_stream_with_added_environment_creates_only_the_missing_account(
    sandbox: Sandbox,
) -> None:
    vend(sandbox, request("grow", environments=["devtest"]))
    before = wait_until(sandbox, "grow")
    assert before["status"] == "SUCCEEDED"
    grown = vend(sandbox, request("grow", environments=["live", "devtest"]))
    after = wait_until(sandbox, "grow")
    assert after["status"] == "SUCCEEDED"
    assert after["accounts"]["devtest"]["account_id"] == before["accounts"]["devtest"]["account_id"]
    assert after["accounts"]["devtest"]["timeline"] == before["accounts"]["devtest"]["timeline"]
    assert after["accounts"]["live"]["status"] == "READY"
    entered = history_states(sandbox, grown["execution_arn"])
    assert entered.count("EnsureAccount") == 1
    assert {link.environment for link in links_of(sandbox, "grow")} == {"live", "devtest"}


def test_vend_waits_while_create_account_stays_in_progress(sandbox: Sandbox) -> None:
    assert sandbox.emulator is not None
    sandbox.emulator.create_seconds = 4.0
    try:
        vend(sandbox, request("slowpoke", environments=["devtest"]))
        record = wait_until(sandbox, "slowpoke")
    finally:
        sandbox.emulator.create_seconds = 0.2
    assert record["status"] == "SUCCEEDED"
    assert record["accounts"]["devtest"]["polls"] >= 2
    assert history_states(sandbox, record["execution_arn"]).count("WaitForAccount") >= 2
