"""The landing zone every stream is vended into, made or repaired in one idempotent pass.

Order matters: the organisation, OUs and core accounts come first, then the SCPs, the tables,
the users account (whose id every trust policy names), the standard roles in the other core
accounts, the hub VPC, and last the catalogue links, so a link never points at a role that is
not there. In a dry run, work inside an account or table that does not exist yet is skipped.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code, member_session
from bootstrap.catalogue import LinkCatalogue, links_for_account
from bootstrap.changes import Plan
from bootstrap.config import CORE_KINDS, OrgConfig
from bootstrap.errors import AccountNotUsable
from bootstrap.network import ensure_hub_vpc
from bootstrap.organization import (
    ensure_account_in_ou,
    ensure_core_account,
    ensure_organization,
    ensure_ou_paths,
    ensure_policy,
    is_planned,
)
from bootstrap.policies import live_scp, vault_scp
from bootstrap.roles import ensure_standard_roles
from bootstrap.store import TABLES, DynamoRecordTable, TableNames, ensure_tables
from bootstrap.users import ADMIN_SUFFIX, ensure_demo_users, ensure_users_account

__all__ = ["LIVE_SCP", "VAULT_SCP", "LandingZone", "bootstrap_landing_zone"]

VAULT_SCP = "orgvend-vault-protect"
LIVE_SCP = "orgvend-live-baseline"


@dataclass
class LandingZone:
    """Ids of what the bootstrap ensured; a dry run's not-yet-existing ones are planned ids."""

    root_id: str
    ou_ids: dict[str, str] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)
    hub_vpc_id: str | None = None


def bootstrap_landing_zone(
    session: boto3.Session,
    config: OrgConfig,
    *,
    tables: TableNames,
    plan: Plan,
    demo_users: tuple[str, ...] = (),
    poll_seconds: float | None = None,
) -> LandingZone:
    """Ensure the whole landing zone from the management account ``session``."""
    zone = LandingZone(root_id=ensure_organization(session, plan=plan))
    paths = config.organizational_units
    by_path = ensure_ou_paths(session, zone.root_id, sorted(set(paths.values())), plan=plan)
    zone.ou_ids = {kind: by_path[path] for kind, path in paths.items()}
    zone.accounts = _ensure_core_accounts(session, config, zone, plan, poll_seconds)
    vault = vault_scp(audit_role=config.audit_role, member_role=config.member_role_name)
    ensure_policy(
        session, name=VAULT_SCP, document=vault, target_id=zone.ou_ids["vault"], plan=plan
    )
    live = live_scp(
        protected_roles=[r.name for r in config.roles_for("live")],
        member_role=config.member_role_name,
    )
    ensure_policy(session, name=LIVE_SCP, document=live, target_id=zone.ou_ids["live"], plan=plan)
    tables_exist = _ensure_tables(session, tables, plan)
    users_id = zone.accounts["users"]
    if not is_planned(users_id):
        users = _inside(session, config, users_id)
        roles = [r.name for r in config.standard_roles]
        groups = {n: roles for n in demo_users if not n.endswith(ADMIN_SUFFIX)}
        ensure_demo_users(users, list(demo_users), plan=plan, groups=groups)
        ensure_users_account(users, config, users_account_id=users_id, plan=plan)
    zone.hub_vpc_id = _ensure_member_accounts(session, config, zone.accounts, plan)
    if tables_exist:
        _register_links(session, config, zone.accounts, tables, plan)
    return zone


def _ensure_core_accounts(
    session: boto3.Session,
    config: OrgConfig,
    zone: LandingZone,
    plan: Plan,
    poll_seconds: float | None,
) -> dict[str, str]:
    """Core accounts are asked for all at once, so their creations overlap."""
    accounts = {"management": client(session, "sts").get_caller_identity()["Account"]}
    poll = config.poll_seconds if poll_seconds is None else poll_seconds

    def ensure(kind: str) -> str:
        return ensure_core_account(
            session,
            config.core_accounts[kind],
            role_name=config.member_role_name,
            tags=config.tags,
            plan=plan,
            poll_seconds=poll,
        )

    with ThreadPoolExecutor(len(CORE_KINDS), thread_name_prefix="orgvend-core") as pool:
        created = dict(zip(CORE_KINDS, pool.map(ensure, CORE_KINDS), strict=True))
    for kind in CORE_KINDS:
        label = f"account {kind}"
        ensure_account_in_ou(session, created[kind], zone.ou_ids[kind], plan=plan, label=label)
        accounts[kind] = created[kind]
    return accounts


def _ensure_tables(session: boto3.Session, tables: TableNames, plan: Plan) -> bool:
    """Whether the tables exist now (false only in a dry run that would create them)."""
    ddb = client(session, "dynamodb")
    names = [getattr(tables, logical) for logical in TABLES]
    missing = [n for n in names if not _table_exists(ddb, n)]
    for name in names:
        if name not in missing:
            plan.unchanged(f"DynamoDB table {name}")
    for name in missing:
        plan.record(f"DynamoDB table {name}", "create")
    if missing and not plan.dry_run:
        ensure_tables(session, tables)
    return not missing or not plan.dry_run


def _table_exists(ddb: Any, name: str) -> bool:
    try:
        ddb.describe_table(TableName=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        return False
    return True


def _inside(session: boto3.Session, config: OrgConfig, account_id: str) -> boto3.Session:
    """A session in the account once its member role accepts us: new accounts lag a little."""
    deadline = time.monotonic() + config.account_usable_timeout_seconds
    while True:
        try:
            return member_session(session, account_id, role_name=config.member_role_name)
        except ClientError as exc:
            if time.monotonic() >= deadline:
                raise AccountNotUsable(
                    f"account {account_id} refused {config.member_role_name}: {exc}"
                ) from exc
            time.sleep(config.poll_seconds)


def _ensure_member_accounts(
    session: boto3.Session, config: OrgConfig, accounts: dict[str, str], plan: Plan
) -> str | None:
    """Standard roles in each core account but users; the hub VPC in operations. Its id."""
    hub: str | None = None
    for kind in CORE_KINDS:
        account_id = accounts[kind]
        if kind == "users" or is_planned(account_id):
            continue
        member = _inside(session, config, account_id)
        ensure_standard_roles(
            member, config, kind=kind, users_account_id=accounts["users"], plan=plan
        )
        if kind == "operations":
            hub = ensure_hub_vpc(member, config, plan=plan) or None
    return hub


def _register_links(
    session: boto3.Session,
    config: OrgConfig,
    accounts: dict[str, str],
    tables: TableNames,
    plan: Plan,
) -> None:
    catalogue = LinkCatalogue(DynamoRecordTable(session, tables.links))
    for kind in CORE_KINDS:
        account_id = accounts[kind]
        if is_planned(account_id):
            continue
        name = config.core_accounts[kind].name
        links = links_for_account(config, account_id=account_id, account_name=name, kind=kind)
        catalogue.register(links, plan=plan)
