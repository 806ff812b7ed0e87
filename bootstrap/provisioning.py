"""What each vending step does to one stream account, against the stream record.

Every function here is safe to run again after a crash at any point: it reads the record and
AWS first, and only then writes what is missing. CreateAccount is reached only when no
account, no pending request and no stored request id exists for the root email.
"""

from __future__ import annotations

import dataclasses
import time
from ipaddress import IPv4Network
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap import organization, roles
from bootstrap.aws import client, member_session
from bootstrap.catalogue import Link, LinkCatalogue, links_for_account
from bootstrap.changes import Plan
from bootstrap.cidrs import CidrAllocator
from bootstrap.config import OrgConfig
from bootstrap.errors import (
    AccountCreationFailed,
    AccountNotUsable,
    NotYetUsable,
    OrgvendError,
)
from bootstrap.network import ensure_stream_network
from bootstrap.store import DynamoRecordTable, RecordTable
from bootstrap.streams import StreamStore

__all__ = [
    "StepTools",
    "account_name",
    "check_account",
    "connect_network",
    "core_account_id",
    "ensure_account",
    "install_roles",
    "place_in_ou",
    "reconcile_account",
    "register_links",
    "stream_links",
    "wait_until_usable",
]

Outcome = dict[str, Any]


@dataclasses.dataclass
class StepTools:
    """What every step needs: the management session, the org config and the tables."""

    session: boto3.Session
    config: OrgConfig
    streams: StreamStore
    links_table: RecordTable
    cidrs_table: RecordTable

    @classmethod
    def from_tables(
        cls, session: boto3.Session, config: OrgConfig, *, streams: str, links: str, cidrs: str
    ) -> StepTools:
        return cls(
            session=session,
            config=config,
            streams=StreamStore(DynamoRecordTable(session, streams)),
            links_table=DynamoRecordTable(session, links),
            cidrs_table=DynamoRecordTable(session, cidrs),
        )

    _core_ids: dict[str, str] = dataclasses.field(default_factory=dict)

    def core_account(self, kind: str) -> str:
        """A core account's id, looked up once: core accounts never change ids."""
        if kind not in self._core_ids:
            self._core_ids[kind] = core_account_id(self.session, self.config, kind)
        return self._core_ids[kind]

    def allocator(self) -> CidrAllocator:
        net = self.config.network
        return CidrAllocator(
            self.cidrs_table, pool=net.stream_pool, reserved=[net.operations_vpc_cidr]
        )


def account_name(stream: str, environment: str) -> str:
    return f"{stream}-{environment}"


def core_account_id(session: boto3.Session, config: OrgConfig, kind: str) -> str:
    found = organization.find_account(session, email=config.core_accounts[kind].email)
    if found is None:
        raise OrgvendError(f"The {kind} account does not exist yet; run `orgvend bootstrap` first.")
    return str(found["Id"])


def _account_tags(config: OrgConfig, record: dict[str, Any], environment: str) -> dict[str, str]:
    request = record["request"]
    return {
        **config.tags,
        **request.get("tags", {}),
        "orgvend:stream": request["name"],
        "orgvend:environment": environment,
        "cost-centre": request["cost_centre"],
    }


def _is_ours(session: boto3.Session, account_id: str, stream: str, environment: str) -> bool:
    org = client(session, "organizations")
    pages = org.get_paginator("list_tags_for_resource").paginate(ResourceId=account_id)
    tags = {t["Key"]: t["Value"] for page in pages for t in page["Tags"]}
    return tags.get("orgvend:stream") == stream and tags.get("orgvend:environment") == environment


def ensure_account(tools: StepTools, stream: str, environment: str) -> Outcome:
    """Find the account by root email, resume its creation, or request it (once)."""
    record = tools.streams.update_account(
        stream, environment, status="CREATING", step="EnsureAccount"
    )
    entry = record["accounts"][environment]
    if entry.get("account_id"):
        return _created(tools, stream, environment, str(entry["account_id"]))
    if entry.get("request_id"):
        return check_account(tools, stream, environment)
    email = entry["email"]
    existing = organization.find_account(tools.session, email=email)
    if existing is not None:
        if not _is_ours(tools.session, existing["Id"], stream, environment):
            raise AccountCreationFailed("EMAIL_ALREADY_EXISTS", email=email, request_id="(none)")
        return _created(tools, stream, environment, str(existing["Id"]))
    name = entry["name"]
    request_id = organization.find_create_request(tools.session, name=name)
    if request_id is None:
        request_id = organization.start_account_creation(
            tools.session,
            name=name,
            email=email,
            role_name=tools.config.member_role_name,
            tags=_account_tags(tools.config, record, environment),
        )
    tools.streams.update_account(stream, environment, request_id=request_id)
    return {"state": "IN_PROGRESS", "request_id": request_id}


def _created(tools: StepTools, stream: str, environment: str, account_id: str) -> Outcome:
    tools.streams.finish_step(stream, environment, "EnsureAccount", account_id=account_id)
    return {"state": "SUCCEEDED", "account_id": account_id}


def check_account(tools: StepTools, stream: str, environment: str) -> Outcome:
    """One look at the CreateAccount request; the workflow's Wait state paces the looks."""
    entry = tools.streams.require(stream)["accounts"][environment]
    request_id = entry["request_id"]
    status = organization.creation_status(tools.session, request_id)
    if status.state == "SUCCEEDED" and status.account_id:
        return _created(tools, stream, environment, status.account_id)
    if status.state == "FAILED":
        # Forget the failed request so that a re-run asks for a new one.
        tools.streams.update_account(
            stream, environment, request_id=None, failed_request_id=request_id
        )
        organization.raise_for_failure(status, email=entry["email"], request_id=request_id)
    polls = int(entry.get("polls", 0)) + 1
    tools.streams.update_account(stream, environment, polls=polls)
    return {"state": status.state, "request_id": request_id}


def _account_id(tools: StepTools, stream: str, environment: str) -> str:
    return str(tools.streams.require(stream)["accounts"][environment]["account_id"])


def _place(tools: StepTools, stream: str, environment: str, account_id: str) -> str:
    plan = Plan()
    root_id = client(tools.session, "organizations").list_roots()["Roots"][0]["Id"]
    path = tools.config.organizational_units[environment]
    ou_id = organization.ensure_ou_path(tools.session, root_id, path, plan=plan)
    organization.ensure_account_in_ou(
        tools.session, account_id, ou_id, plan=plan, label=account_name(stream, environment)
    )
    return path


def place_in_ou(tools: StepTools, stream: str, environment: str) -> Outcome:
    record = tools.streams.update_account(stream, environment, step="PlaceInOu")
    account_id = str(record["accounts"][environment]["account_id"])
    path = _place(tools, stream, environment, account_id)
    tools.streams.finish_step(stream, environment, "PlaceInOu", ou=path)
    return {}


def wait_until_usable(tools: StepTools, stream: str, environment: str) -> Outcome:
    """Usable means: assuming the member role works and acts inside the account."""
    record = tools.streams.update_account(stream, environment, step="WaitUntilUsable")
    entry = record["accounts"][environment]
    since = float(entry.get("usable_since") or time.time())
    if "usable_since" not in entry:
        tools.streams.update_account(stream, environment, usable_since=since)
    account_id = str(entry["account_id"])
    try:
        inside = member_session(tools.session, account_id, role_name=tools.config.member_role_name)
        seen = client(inside, "sts").get_caller_identity()["Account"]
    except ClientError as exc:
        seen = f"error {exc}"
    if seen == account_id:
        tools.streams.finish_step(stream, environment, "WaitUntilUsable")
        return {}
    waited = time.time() - since
    if waited > tools.config.account_usable_timeout_seconds:
        raise AccountNotUsable(
            f"Account {account_id} did not accept {tools.config.member_role_name} within "
            f"{int(waited)} s ({seen})."
        )
    raise NotYetUsable(f"Account {account_id} is not usable yet ({seen}).")


def _roles_config(config: OrgConfig, request: dict[str, Any]) -> OrgConfig:
    wanted = request.get("roles")
    if not wanted:
        return config
    chosen = tuple(r for r in config.standard_roles if r.name in wanted)
    return dataclasses.replace(config, standard_roles=chosen)


def _roles(tools: StepTools, record: dict[str, Any], environment: str) -> list[str]:
    account_id = str(record["accounts"][environment]["account_id"])
    inside = member_session(tools.session, account_id, role_name=tools.config.member_role_name)
    return roles.ensure_standard_roles(
        inside,
        _roles_config(tools.config, record["request"]),
        kind=environment,
        users_account_id=tools.core_account("users"),
        plan=Plan(),
        account_label=account_name(record["name"], environment),
    )


def install_roles(tools: StepTools, stream: str, environment: str) -> Outcome:
    record = tools.streams.update_account(stream, environment, step="InstallRoles")
    names = _roles(tools, record, environment)
    tools.streams.finish_step(stream, environment, "InstallRoles", roles=names)
    return {}


def _network(tools: StepTools, record: dict[str, Any], environment: str) -> dict[str, str]:
    stream = record["name"]
    entry = record["accounts"][environment]
    requested = record["request"].get("cidr", {}).get(environment)
    cidr = tools.allocator().allocate(
        f"{stream}/{environment}",
        prefix=tools.config.network.prefix_length[environment],
        requested=IPv4Network(requested) if requested else None,
    )
    ops_id = tools.core_account("operations")
    role = tools.config.member_role_name
    result = ensure_stream_network(
        member_session(tools.session, str(entry["account_id"]), role_name=role),
        member_session(tools.session, ops_id, role_name=role),
        name=account_name(stream, environment),
        cidr=cidr,
        account_id=str(entry["account_id"]),
        ops_account_id=ops_id,
        config=tools.config,
        plan=Plan(),
    )
    return {"cidr": str(cidr), "vpc_id": result.vpc_id, "peering_id": result.peering_id}


def connect_network(tools: StepTools, stream: str, environment: str) -> Outcome:
    record = tools.streams.update_account(stream, environment, step="ConnectNetwork")
    found = _network(tools, record, environment)
    tools.streams.finish_step(stream, environment, "ConnectNetwork", **found)
    return {}


def reconcile_account(tools: StepTools, stream: str, environment: str) -> None:
    """Put back what a READY account carries (OU, roles, network), leaving its timeline be.

    The sandbox runs this after a restart with ``--state``: the emulator restores the
    organisation and tables, and this rebuilds what lives inside the accounts.
    """
    record = tools.streams.require(stream)
    account_id = str(record["accounts"][environment]["account_id"])
    _place(tools, stream, environment, account_id)
    _roles(tools, record, environment)
    found = _network(tools, record, environment)

    def change(latest: dict[str, Any]) -> None:
        latest["accounts"][environment].update(found)

    tools.streams.update(stream, change)


def stream_links(config: OrgConfig, record: dict[str, Any]) -> list[Link]:
    """The catalogue entries of every account of the stream that has an id."""
    scoped = _roles_config(config, record["request"])
    links: list[Link] = []
    for environment, entry in sorted(record.get("accounts", {}).items()):
        if entry.get("account_id"):
            links += links_for_account(
                scoped,
                account_id=str(entry["account_id"]),
                account_name=str(entry["name"]),
                kind=environment,
                stream=record["name"],
            )
    return links


def register_links(tools: StepTools, stream: str) -> Outcome:
    """Catalogue every account at once, only after all of them are built."""
    record = tools.streams.require(stream)
    building = [e for e, entry in record["accounts"].items() if entry["status"] != "READY"]
    for environment in building:
        tools.streams.update_account(stream, environment, step="RegisterLinks")
    LinkCatalogue(tools.links_table).register(stream_links(tools.config, record), plan=Plan())
    for environment in building:
        tools.streams.finish_step(stream, environment, "RegisterLinks")
    return {}
