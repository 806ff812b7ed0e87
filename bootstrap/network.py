"""Networking: the operations hub VPC, and each stream VPC peered with it.

Ranges come from :mod:`bootstrap.cidrs`. Every VPC, subnet set and peering is found again by
its tag, so a re-run never creates a second one.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Network
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.changes import Plan
from bootstrap.config import OrgConfig
from bootstrap.errors import (
    CidrOverlap,
    HubNetworkMissing,
    PeeringPending,
    PeeringRejected,
)

__all__ = [
    "HUB",
    "NETWORK_TAG",
    "PEERING_TAG",
    "StreamNetwork",
    "ensure_hub_vpc",
    "ensure_stream_network",
]

NETWORK_TAG = "orgvend:network"
PEERING_TAG = "orgvend:peering"
HUB = "hub"
_FAILED = ("rejected", "failed", "expired")
_DELETED = ("deleted", "deleting")
_GONE = (*_DELETED, *_FAILED)


@dataclass(frozen=True)
class StreamNetwork:
    vpc_id: str
    cidr: IPv4Network
    subnet_ids: tuple[str, ...]
    peering_id: str


@dataclass(frozen=True)
class _Scope:
    """One account's EC2, and how its resources are named in the plan."""

    ec2: Any
    where: str
    config: OrgConfig
    plan: Plan

    def tags(self, name: str, **extra: str) -> list[dict[str, str]]:
        tags = {**self.config.tags, "Name": f"orgvend-{name}", **extra}
        return [{"Key": k, "Value": v} for k, v in sorted(tags.items())]

    def create(
        self, resource: str, detail: str, call: Callable[..., Any], key: str, **request: Any
    ) -> str | None:
        """Record a create and run it; the new resource's id, or ``None`` in a dry run."""
        created = self.plan.record(
            resource, "create", detail, apply=lambda: call(**request)[key][f"{key}Id"]
        )
        return None if created is None else str(created)


def _scope(session: boto3.Session, where: str, config: OrgConfig, plan: Plan) -> _Scope:
    return _Scope(client(session, "ec2", region=config.home_region), where, config, plan)


def _tagged_vpcs(ec2: Any, network: str) -> list[dict[str, Any]]:
    pages = ec2.get_paginator("describe_vpcs").paginate(
        Filters=[{"Name": f"tag:{NETWORK_TAG}", "Values": [network]}]
    )
    return sorted((v for page in pages for v in page["Vpcs"]), key=lambda v: v["VpcId"])


def _ensure_vpc(scope: _Scope, network: str, cidr: IPv4Network) -> str | None:
    """The VPC tagged ``network``: found, or created; ``None`` only in a dry run."""
    resource = f"{scope.where}/vpc/{network}"
    vpcs = _tagged_vpcs(scope.ec2, network)
    for vpc in vpcs:
        if ipaddress.IPv4Network(vpc["CidrBlock"]) == cidr:
            scope.plan.unchanged(resource, vpc["VpcId"])
            return str(vpc["VpcId"])
    if vpcs:
        raise CidrOverlap(
            f"{scope.where} already has VPC {vpcs[0]['VpcId']} tagged {NETWORK_TAG}={network} "
            f"with {vpcs[0]['CidrBlock']}, not {cidr}; orgvend will not create a second one. "
            "Request that CIDR, or delete the VPC."
        )
    tags = scope.tags(network, **{NETWORK_TAG: network})
    return scope.create(
        resource,
        str(cidr),
        scope.ec2.create_vpc,
        "Vpc",
        CidrBlock=str(cidr),
        TagSpecifications=[{"ResourceType": "vpc", "Tags": tags}],
    )


def _subnet_layout(cidr: IPv4Network, count: int, zones: list[str]) -> list[tuple[str, str]]:
    """``count`` equal subnets of ``cidr`` as ``(cidr, zone)``, spread round the zones."""
    extra_bits = math.ceil(math.log2(count)) if count > 1 else 0
    blocks = list(cidr.subnets(prefixlen_diff=extra_bits))[:count]
    return [(str(block), zones[i % len(zones)]) for i, block in enumerate(blocks)]


def _existing_subnets(ec2: Any, vpc_id: str | None, network: str) -> dict[str, str]:
    if vpc_id is None:
        return {}
    pages = ec2.get_paginator("describe_subnets").paginate(
        Filters=[
            {"Name": "vpc-id", "Values": [vpc_id]},
            {"Name": f"tag:{NETWORK_TAG}", "Values": [network]},
        ]
    )
    return {s["CidrBlock"]: s["SubnetId"] for page in pages for s in page["Subnets"]}


def _ensure_subnets(
    scope: _Scope, vpc_id: str | None, network: str, cidr: IPv4Network
) -> list[str]:
    """One subnet per zone of the home region, found again by CIDR inside the tagged VPC."""
    reply = scope.ec2.describe_availability_zones(
        Filters=[{"Name": "state", "Values": ["available"]}]
    )
    zones = sorted(z["ZoneName"] for z in reply["AvailabilityZones"])
    existing = _existing_subnets(scope.ec2, vpc_id, network)
    ids: list[str] = []
    layout = _subnet_layout(cidr, scope.config.network.subnets, zones)
    for index, (block, zone) in enumerate(layout):
        resource = f"{scope.where}/subnet/{network}/{index}"
        if block in existing:
            scope.plan.unchanged(resource, existing[block])
            ids.append(existing[block])
            continue
        tags = scope.tags(f"{network}-{index}", **{NETWORK_TAG: network})
        created = scope.create(
            resource,
            f"{block} in {zone}",
            scope.ec2.create_subnet,
            "Subnet",
            VpcId=vpc_id,
            CidrBlock=block,
            AvailabilityZone=zone,
            TagSpecifications=[{"ResourceType": "subnet", "Tags": tags}],
        )
        ids += [created] if created is not None else []
    return ids


def ensure_hub_vpc(ops_session: boto3.Session, config: OrgConfig, *, plan: Plan) -> str:
    """The operations hub VPC and its subnets; returns the VPC id ("" in a dry run that would
    create it)."""
    scope = _scope(ops_session, "operations", config, plan)
    cidr = config.network.operations_vpc_cidr
    vpc_id = _ensure_vpc(scope, HUB, cidr)
    _ensure_subnets(scope, vpc_id, HUB, cidr)
    return vpc_id or ""


def ensure_stream_network(
    member_session: boto3.Session,
    ops_session: boto3.Session,
    *,
    name: str,
    cidr: IPv4Network,
    account_id: str,
    ops_account_id: str,
    config: OrgConfig,
    plan: Plan,
) -> StreamNetwork:
    """The member account's VPC tagged ``name``, peered with the hub and routed both ways."""
    member = _scope(member_session, f"account-{account_id}", config, plan)
    ops = _scope(ops_session, "operations", config, plan)
    hubs = _tagged_vpcs(ops.ec2, HUB)
    if not hubs:
        raise HubNetworkMissing(f"no VPC tagged {NETWORK_TAG}={HUB} in {ops_account_id}")
    hub_id, hub_cidr = str(hubs[0]["VpcId"]), ipaddress.IPv4Network(hubs[0]["CidrBlock"])
    if cidr.overlaps(hub_cidr):
        raise CidrOverlap(f"{cidr} for {name} overlaps the operations hub VPC {hub_cidr}")
    vpc_id = _ensure_vpc(member, name, cidr)
    subnet_ids = _ensure_subnets(member, vpc_id, name, cidr)
    link = _Link(name=name, vpc_id=vpc_id, hub_id=hub_id, ops_account_id=ops_account_id)
    pcx_id = _ensure_peering(member, ops, link)
    _ensure_routes(member, vpc_id, to=hub_cidr, pcx_id=pcx_id)
    _ensure_routes(ops, hub_id, to=cidr, pcx_id=pcx_id)
    return StreamNetwork(
        vpc_id=vpc_id or "", cidr=cidr, subnet_ids=tuple(subnet_ids), peering_id=pcx_id or ""
    )


@dataclass(frozen=True)
class _Link:
    name: str
    vpc_id: str | None
    hub_id: str
    ops_account_id: str


def _peerings(
    ec2: Any, filters: list[dict[str, Any]], keep: Callable[[dict[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Peerings matching ``filters``, checked again by ``keep``: moto ignores the filters."""
    pages = ec2.get_paginator("describe_vpc_peering_connections").paginate(Filters=filters)
    return [p for page in pages for p in page["VpcPeeringConnections"] if keep(p)]


def _find_peering(ec2: Any, link: _Link) -> tuple[dict[str, Any] | None, bool]:
    """The stream's peering and whether it carries our tag; failed ones only if tagged."""

    def ours(p: dict[str, Any]) -> bool:
        tags = {t["Key"]: t["Value"] for t in p.get("Tags", [])}
        return tags.get(PEERING_TAG) == link.name and p["Status"]["Code"] not in _DELETED

    tagged = _peerings(ec2, [{"Name": f"tag:{PEERING_TAG}", "Values": [link.name]}], ours)
    if tagged:
        return min(tagged, key=lambda p: p["Status"]["Code"] in _FAILED), True
    if link.vpc_id is None:
        return None, False

    def between(p: dict[str, Any]) -> bool:
        ends = (p["RequesterVpcInfo"].get("VpcId"), p["AccepterVpcInfo"].get("VpcId"))
        return ends == (link.vpc_id, link.hub_id) and p["Status"]["Code"] not in _GONE

    found = _peerings(
        ec2,
        [
            {"Name": "requester-vpc-info.vpc-id", "Values": [link.vpc_id]},
            {"Name": "accepter-vpc-info.vpc-id", "Values": [link.hub_id]},
        ],
        between,
    )
    return (found[0] if found else None), False


def _ensure_peering(member: _Scope, ops: _Scope, link: _Link) -> str | None:
    """Request (or find) the peering, then accept it from operations; ``None`` in a dry run."""
    resource = f"{member.where}/peering/{link.name}"
    tags = member.tags(f"{link.name}-to-hub", **{PEERING_TAG: link.name})
    found, tagged = _find_peering(member.ec2, link)
    if found is None:
        pcx_id = member.create(
            resource,
            f"to hub {link.hub_id} in {link.ops_account_id}",
            member.ec2.create_vpc_peering_connection,
            "VpcPeeringConnection",
            VpcId=link.vpc_id,
            PeerVpcId=link.hub_id,
            PeerOwnerId=link.ops_account_id,
            PeerRegion=member.config.home_region,
            TagSpecifications=[{"ResourceType": "vpc-peering-connection", "Tags": tags}],
        )
    else:
        pcx_id = str(found["VpcPeeringConnectionId"])
        if tagged:
            member.plan.unchanged(resource, pcx_id)
        else:
            member.plan.record(
                resource,
                "adopt",
                pcx_id,
                apply=lambda: member.ec2.create_tags(Resources=[pcx_id], Tags=tags),
            )
    _accept(ops, pcx_id, link)
    return pcx_id


def _peer_status(ec2: Any, pcx_id: str) -> str:
    """The peering's status as operations sees it; not visible yet counts as initiating."""
    try:
        seen = ec2.describe_vpc_peering_connections(VpcPeeringConnectionIds=[pcx_id])
    except ClientError as exc:
        if error_code(exc) != "InvalidVpcPeeringConnectionID.NotFound":
            raise
        return "initiating-request"
    return str(seen["VpcPeeringConnections"][0]["Status"]["Code"])


def _accept(ops: _Scope, pcx_id: str | None, link: _Link) -> None:
    resource = f"operations/peering-acceptance/{link.name}"
    if pcx_id is None:
        ops.plan.record(resource, "update", "accept the new peering")
        return
    status = _peer_status(ops.ec2, pcx_id)
    if status in _FAILED:
        raise PeeringRejected(
            f"peering {pcx_id} of {link.name} to the hub is {status}. {PeeringRejected.advice}"
        )
    if status == "initiating-request":
        raise PeeringPending(f"peering {pcx_id} of {link.name} is not yet visible to operations")
    if status == "pending-acceptance":
        ops.plan.record(
            resource,
            "update",
            f"accept {pcx_id}",
            apply=lambda: ops.ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=pcx_id),
        )
    else:
        ops.plan.unchanged(resource, f"{pcx_id} {status}")


def _ensure_routes(
    scope: _Scope, vpc_id: str | None, *, to: IPv4Network, pcx_id: str | None
) -> None:
    """Every route table of ``vpc_id`` sends ``to`` through the peering."""
    if vpc_id is None:
        scope.plan.record(f"{scope.where}/routes/{to}", "create", "in the new VPC's route tables")
        return
    pages = scope.ec2.get_paginator("describe_route_tables").paginate(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]
    )
    for table in (t for page in pages for t in page["RouteTables"]):
        route = {"RouteTableId": table["RouteTableId"], "DestinationCidrBlock": str(to)}
        resource = f"{scope.where}/route/{table['RouteTableId']}/{to}"
        found = next((r for r in table["Routes"] if r.get("DestinationCidrBlock") == str(to)), None)
        if found is None:
            write = _route_writer(scope.ec2.create_route, route, pcx_id)
            scope.plan.record(resource, "create", f"via {pcx_id}", apply=write)
        elif found.get("VpcPeeringConnectionId") != pcx_id:
            write = _route_writer(scope.ec2.replace_route, route, pcx_id)
            scope.plan.record(resource, "repair", f"now via {pcx_id}", apply=write)
        else:
            scope.plan.unchanged(resource, f"via {pcx_id}")


def _route_writer(
    call: Callable[..., Any], route: dict[str, str], pcx_id: str | None
) -> Callable[[], None]:
    """A route write; another run adding the same route first is not an error."""

    def write() -> None:
        try:
            call(**route, VpcPeeringConnectionId=pcx_id)
        except ClientError as exc:
            if error_code(exc) != "RouteAlreadyExists":
                raise

    return write
