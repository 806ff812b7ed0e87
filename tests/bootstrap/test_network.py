"""CIDR allocation against the emulated DynamoDB; hub and stream VPCs in real member accounts."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Network

import boto3
import pytest
from botocore.exceptions import ClientError

from bootstrap.aws import member_session
from bootstrap.changes import Plan
from bootstrap.cidrs import CidrAllocator
from bootstrap.config import OrgConfig
from bootstrap.errors import (
    CidrOutsidePool,
    CidrOverlap,
    CidrPoolExhausted,
    PeeringPending,
    PeeringRejected,
)
from bootstrap.network import StreamNetwork, ensure_hub_vpc, ensure_stream_network
from bootstrap.store import DynamoRecordTable, TableNames, ensure_tables

POOL = IPv4Network("10.64.0.0/12")
OPS = IPv4Network("10.0.0.0/16")


def _table(session: boto3.Session) -> DynamoRecordTable:
    return DynamoRecordTable(session, TableNames().cidrs)


@pytest.fixture
def allocator(aws: boto3.Session) -> CidrAllocator:
    ensure_tables(aws, TableNames())
    return CidrAllocator(_table(aws), pool=POOL, reserved=[OPS])


def _account(aws: boto3.Session, name: str) -> tuple[str, boto3.Session]:
    org = aws.client("organizations")
    request = org.create_account(AccountName=name, Email=f"{name}@example.com")
    request_id = request["CreateAccountStatus"]["Id"]
    for _ in range(100):
        status = org.describe_create_account_status(CreateAccountRequestId=request_id)
        if status["CreateAccountStatus"]["State"] == "SUCCEEDED":
            account_id = status["CreateAccountStatus"]["AccountId"]
            return account_id, member_session(
                aws, account_id, role_name="OrganizationAccountAccessRole"
            )
        time.sleep(0.02)
    raise AssertionError("account creation did not succeed")


def test_allocate_cidrs_concurrently_never_overlap(aws: boto3.Session) -> None:
    ensure_tables(aws, TableNames())
    owners = [f"stream{i}/live" for i in range(20)]
    allocators = [CidrAllocator(_table(aws), pool=POOL, reserved=[OPS]) for _ in owners]
    with ThreadPoolExecutor(max_workers=len(owners)) as pool:
        cidrs = list(pool.map(lambda a, o: a.allocate(o, prefix=20), allocators, owners))
    assert allocators[0].allocations() == dict(zip(owners, cidrs, strict=True))
    assert all(cidr.subnet_of(POOL) and cidr.prefixlen == 20 for cidr in cidrs)
    assert not any(a.overlaps(b) for a, b in itertools.combinations(cidrs, 2))


def test_allocate_cidr_same_owner_twice_gets_same_range(allocator: CidrAllocator) -> None:
    first = allocator.allocate("payments/live", prefix=20)
    again = allocator.allocate("payments/live", prefix=20)
    repeated = allocator.allocate("payments/live", prefix=20, requested=first)
    assert first == again == repeated == IPv4Network("10.64.0.0/20")
    assert allocator.allocate("payments/devtest", prefix=21) == IPv4Network("10.64.16.0/21")


def test_allocate_cidr_other_request_for_allocated_owner_is_refused(
    allocator: CidrAllocator,
) -> None:
    allocator.allocate("payments/live", prefix=20)
    with pytest.raises(CidrOverlap, match=r"payments/live already holds 10\.64\.0\.0/20"):
        allocator.allocate("payments/live", prefix=20, requested=IPv4Network("10.80.0.0/20"))


def test_allocate_cidr_requested_overlapping_allocation_names_owner(
    allocator: CidrAllocator,
) -> None:
    allocator.allocate("payments/live", prefix=20)
    with pytest.raises(CidrOverlap, match=r"10\.64\.0\.0/20, allocated to payments/live"):
        allocator.allocate("search/live", prefix=20, requested=IPv4Network("10.64.8.0/21"))
    assert set(allocator.allocations()) == {"payments/live"}


def test_allocate_cidr_requested_overlapping_operations_is_refused(
    allocator: CidrAllocator,
) -> None:
    with pytest.raises(CidrOverlap, match="operations hub VPC"):
        allocator.allocate("search/live", prefix=20, requested=IPv4Network("10.0.16.0/20"))


def test_allocate_cidr_requested_outside_pool_is_refused(allocator: CidrAllocator) -> None:
    with pytest.raises(CidrOutsidePool, match=r"10\.64\.0\.0/12"):
        allocator.allocate("search/live", prefix=20, requested=IPv4Network("192.168.0.0/20"))


def test_allocate_cidr_requested_free_range_is_kept(allocator: CidrAllocator) -> None:
    wanted = IPv4Network("10.70.0.0/20")
    assert allocator.allocate("search/live", prefix=20, requested=wanted) == wanted
    assert allocator.allocate("other/live", prefix=20) == IPv4Network("10.64.0.0/20")


def test_allocate_cidr_exhausted_pool_names_pool_and_prefix(aws: boto3.Session) -> None:
    ensure_tables(aws, TableNames())
    tiny = CidrAllocator(_table(aws), pool=IPv4Network("10.64.0.0/22"))
    got = [tiny.allocate(f"s{i}/live", prefix=24) for i in range(4)]
    assert got == list(IPv4Network("10.64.0.0/22").subnets(new_prefix=24))
    with pytest.raises(CidrPoolExhausted, match=r"/24 .*10\.64\.0\.0/22"):
        tiny.allocate("s4/live", prefix=24)


def test_allocations_survive_a_new_allocator(aws: boto3.Session, allocator: CidrAllocator) -> None:
    cidr = allocator.allocate("payments/live", prefix=20)
    later = CidrAllocator(_table(aws), pool=POOL, reserved=[OPS])
    assert later.allocations() == {"payments/live": cidr}
    assert later.allocate("search/live", prefix=20) != cidr


def test_release_cidr_frees_range_for_next_owner(allocator: CidrAllocator) -> None:
    cidr = allocator.allocate("payments/live", prefix=20)
    assert allocator.release("payments/live") is True
    assert allocator.release("payments/live") is False
    assert allocator.allocate("search/live", prefix=20) == cidr


@pytest.fixture
def accounts(aws: boto3.Session) -> dict[str, tuple[str, boto3.Session]]:
    aws.client("organizations").create_organization(FeatureSet="ALL")
    return {name: _account(aws, name) for name in ("operations", "payments-live")}


def _connect(
    accounts: dict[str, tuple[str, boto3.Session]],
    config: OrgConfig,
    plan: Plan,
    cidr: str = "10.64.0.0/20",
) -> StreamNetwork:
    (ops_id, ops), (member_id, member) = accounts["operations"], accounts["payments-live"]
    return ensure_stream_network(
        member,
        ops,
        name="payments-live",
        cidr=IPv4Network(cidr),
        account_id=member_id,
        ops_account_id=ops_id,
        config=config,
        plan=plan,
    )


def _routes(session: boto3.Session, vpc_id: str) -> list[dict[str, str]]:
    tables = session.client("ec2").describe_route_tables(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )["RouteTables"]
    return [r for t in tables for r in t["Routes"] if "VpcPeeringConnectionId" in r]


def test_ensure_hub_vpc_twice_keeps_one_vpc_and_its_subnets(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    ops = accounts["operations"][1]
    first, second = Plan(), Plan()
    vpc_id = ensure_hub_vpc(ops, org_config, plan=first)
    assert ensure_hub_vpc(ops, org_config, plan=second) == vpc_id
    ec2 = ops.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:orgvend:network", "Values": ["hub"]}])["Vpcs"]
    subnets = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    assert [(v["VpcId"], v["CidrBlock"]) for v in vpcs] == [(vpc_id, "10.0.0.0/16")]
    assert {"Key": "Name", "Value": "orgvend-hub"} in vpcs[0]["Tags"]
    assert sorted((s["CidrBlock"], s["AvailabilityZone"]) for s in subnets) == [
        ("10.0.0.0/17", "eu-west-2a"),
        ("10.0.128.0/17", "eu-west-2b"),
    ]
    assert [c.action for c in first.changes] == ["create"] * 3
    assert second.changed == []


def test_ensure_stream_network_peers_and_routes_both_sides(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    hub_id = ensure_hub_vpc(accounts["operations"][1], org_config, plan=Plan())
    network = _connect(accounts, org_config, Plan())
    member, ops = accounts["payments-live"][1], accounts["operations"][1]
    [peering] = member.client("ec2").describe_vpc_peering_connections(
        VpcPeeringConnectionIds=[network.peering_id]
    )["VpcPeeringConnections"]
    assert peering["Status"]["Code"] == "active"
    assert peering["AccepterVpcInfo"]["OwnerId"] == accounts["operations"][0]
    assert len(network.subnet_ids) == 2
    pcx = network.peering_id
    assert _routes(member, network.vpc_id) == [
        {
            "DestinationCidrBlock": "10.0.0.0/16",
            "Origin": "CreateRoute",
            "State": "active",
            "VpcPeeringConnectionId": pcx,
        }
    ]
    assert [
        (r["DestinationCidrBlock"], r["VpcPeeringConnectionId"]) for r in _routes(ops, hub_id)
    ] == [("10.64.0.0/20", pcx)]


def test_ensure_stream_network_second_run_creates_nothing(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    ensure_hub_vpc(accounts["operations"][1], org_config, plan=Plan())
    first = _connect(accounts, org_config, Plan())
    plan = Plan()
    assert _connect(accounts, org_config, plan) == first
    assert plan.changed == []
    ec2 = accounts["payments-live"][1].client("ec2")
    tagged = [{"Name": "tag:orgvend:network", "Values": ["payments-live"]}]
    assert len(ec2.describe_vpcs(Filters=tagged)["Vpcs"]) == 1
    assert len(ec2.describe_subnets(Filters=tagged)["Subnets"]) == 2
    assert len(ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]) == 1


def test_ensure_stream_network_dry_run_creates_nothing(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    ensure_hub_vpc(accounts["operations"][1], org_config, plan=Plan())
    plan = Plan(dry_run=True)
    network = _connect(accounts, org_config, plan)
    assert network.vpc_id == network.peering_id == ""
    assert {c.action for c in plan.changes} == {"create", "update"}
    ec2 = accounts["payments-live"][1].client("ec2")
    assert ec2.describe_vpc_peering_connections()["VpcPeeringConnections"] == []
    tagged = [{"Name": "tag:orgvend:network", "Values": ["payments-live"]}]
    assert ec2.describe_vpcs(Filters=tagged)["Vpcs"] == []


def test_ensure_stream_network_tagged_vpc_with_other_cidr_is_refused(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    ensure_hub_vpc(accounts["operations"][1], org_config, plan=Plan())
    _connect(accounts, org_config, Plan())
    with pytest.raises(CidrOverlap, match=r"10\.64\.0\.0/20, not 10\.80\.0\.0/20"):
        _connect(accounts, org_config, Plan(), cidr="10.80.0.0/20")
    tagged = [{"Name": "tag:orgvend:network", "Values": ["payments-live"]}]
    ec2 = accounts["payments-live"][1].client("ec2")
    assert len(ec2.describe_vpcs(Filters=tagged)["Vpcs"]) == 1


def _peering_made_by_hand(
    accounts: dict[str, tuple[str, boto3.Session]], config: OrgConfig, *, tagged: bool
) -> str:
    """A stream VPC and its peering to the hub, made outside orgvend (tagged or not)."""
    ensure_hub_vpc(accounts["operations"][1], config, plan=Plan())
    (ops_id, ops), member = accounts["operations"], accounts["payments-live"][1]
    ec2 = member.client("ec2")
    network_tag = [{"Key": "orgvend:network", "Value": "payments-live"}]
    vpc = ec2.create_vpc(
        CidrBlock="10.64.0.0/20", TagSpecifications=[{"ResourceType": "vpc", "Tags": network_tag}]
    )["Vpc"]
    hub = ops.client("ec2").describe_vpcs(
        Filters=[{"Name": "tag:orgvend:network", "Values": ["hub"]}]
    )["Vpcs"][0]
    peering_tag = [{"Key": "orgvend:peering", "Value": "payments-live"}]
    specs = [{"ResourceType": "vpc-peering-connection", "Tags": peering_tag}] if tagged else []
    reply = ec2.create_vpc_peering_connection(
        VpcId=vpc["VpcId"],
        PeerVpcId=hub["VpcId"],
        PeerOwnerId=ops_id,
        PeerRegion="eu-west-2",
        TagSpecifications=specs,
    )
    return str(reply["VpcPeeringConnection"]["VpcPeeringConnectionId"])


def test_ensure_stream_network_rejected_peering_raises(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    pcx = _peering_made_by_hand(accounts, org_config, tagged=True)
    accounts["operations"][1].client("ec2").reject_vpc_peering_connection(
        VpcPeeringConnectionId=pcx
    )
    with pytest.raises(PeeringRejected, match=f"{pcx} .*rejected"):
        _connect(accounts, org_config, Plan())


def test_ensure_stream_network_untagged_peering_is_adopted(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    pcx = _peering_made_by_hand(accounts, org_config, tagged=False)
    plan = Plan()
    network = _connect(accounts, org_config, plan)
    assert network.peering_id == pcx
    assert ("adopt", pcx) in [(c.action, c.detail) for c in plan.changes]
    ec2 = accounts["payments-live"][1].client("ec2")
    [peering] = ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
    assert peering["Status"]["Code"] == "active"
    assert {"Key": "orgvend:peering", "Value": "payments-live"} in peering["Tags"]


def test_ensure_stream_network_peering_not_yet_visible_is_transient(
    accounts: dict[str, tuple[str, boto3.Session]], org_config: OrgConfig
) -> None:
    ensure_hub_vpc(accounts["operations"][1], org_config, plan=Plan())

    def not_visible(**_: object) -> None:
        error = {"Code": "InvalidVpcPeeringConnectionID.NotFound", "Message": "not yet"}
        raise ClientError({"Error": error}, "DescribeVpcPeeringConnections")

    accounts["operations"][1].events.register(
        "before-call.ec2.DescribeVpcPeeringConnections", not_visible
    )
    with pytest.raises(PeeringPending) as caught:
        _connect(accounts, org_config, Plan())
    assert caught.value.code == "Transient.PeeringPending"
