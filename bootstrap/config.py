"""The org configuration: loaded from YAML or JSON, validated against its schema, defaults filled.

An invalid file fails here, at load, with every field named by JSON pointer; nothing else in
orgvend has to re-check what the schema already guarantees.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bootstrap.errors import ConfigInvalid, ValidationIssue
from bootstrap.validation import apply_defaults, load_schema, validate

__all__ = [
    "CORE_KINDS",
    "PALETTE",
    "STREAM_ENVIRONMENTS",
    "CoreAccount",
    "Network",
    "OrgConfig",
    "StandardRole",
    "load_config",
    "parse_config",
]

CORE_KINDS = ("users", "operations", "vault", "rnd")
STREAM_ENVIRONMENTS = ("live", "devtest")
PALETTE = {
    "red": "f2b0a9",
    "orange": "fbc8aa",
    "yellow": "efda95",
    "green": "b7ca9d",
    "blue": "83d4e8",
}
"""The AWS console's switch-role colours, by name."""


@dataclass(frozen=True)
class CoreAccount:
    kind: str
    name: str
    email: str


@dataclass(frozen=True)
class StandardRole:
    name: str
    accounts: tuple[str, ...]
    managed_policies: tuple[str, ...] = ()
    inline_policy: dict[str, Any] | None = None
    max_session_seconds: int = 3600
    description: str = ""


@dataclass(frozen=True)
class Network:
    operations_vpc_cidr: ipaddress.IPv4Network
    stream_pool: ipaddress.IPv4Network
    prefix_length: dict[str, int]
    subnets: int


@dataclass(frozen=True)
class OrgConfig:
    home_region: str
    core_accounts: dict[str, CoreAccount]
    stream_email_template: str
    organizational_units: dict[str, str]
    standard_roles: tuple[StandardRole, ...]
    audit_role: str
    network: Network
    colours: dict[str, str]
    approval_required: bool
    approval_timeout_seconds: int
    poll_seconds: int
    max_concurrent_environments: int
    account_usable_timeout_seconds: int
    member_role_name: str
    tags: dict[str, str] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def roles_for(self, kind: str) -> tuple[StandardRole, ...]:
        """The standard roles an account of ``kind`` carries, in config order."""
        return tuple(r for r in self.standard_roles if kind in r.accounts)

    def stream_email(self, stream: str, environment: str) -> str:
        return self.stream_email_template.format(stream=stream, environment=environment)

    def colour_hex(self, kind: str) -> str:
        return PALETTE[self.colours.get(kind, "blue")]


def load_config(path: str | Path) -> OrgConfig:
    """Read, validate and parse the org config at ``path`` (``.yaml``, ``.yml`` or ``.json``)."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigInvalid(str(source), [{"path": "", "message": f"cannot read: {exc}"}]) from exc
    try:
        data = json.loads(text) if source.suffix == ".json" else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigInvalid(
            str(source), [{"path": "", "message": f"not parseable: {exc}"}]
        ) from exc
    return parse_config(data, source=str(source))


def parse_config(data: Any, *, source: str = "org config") -> OrgConfig:
    issues = validate(data, "org-config")
    if issues:
        raise ConfigInvalid(source, issues)
    full = apply_defaults(data, load_schema("org-config"))
    issues = _semantic_issues(full)
    if issues:
        raise ConfigInvalid(source, issues)
    return _build(full)


def _network(raw: dict[str, Any]) -> Network:
    return Network(
        operations_vpc_cidr=ipaddress.IPv4Network(raw["operations_vpc_cidr"]),
        stream_pool=ipaddress.IPv4Network(raw["stream_pool"]),
        prefix_length={"live": 20, "devtest": 21, **raw["prefix_length"]},
        subnets=raw["subnets"],
    )


def _semantic_issues(full: dict[str, Any]) -> list[ValidationIssue]:
    """Rules a JSON Schema cannot state: CIDR arithmetic, unique names, cross references."""
    issues: list[ValidationIssue] = []
    net = full["network"]
    parsed: dict[str, ipaddress.IPv4Network] = {}
    for key in ("operations_vpc_cidr", "stream_pool"):
        try:
            parsed[key] = ipaddress.IPv4Network(net[key])
        except ValueError as exc:
            issues.append({"path": f"/network/{key}", "message": f"not a network address: {exc}"})
    if len(parsed) == 2:
        if parsed["operations_vpc_cidr"].overlaps(parsed["stream_pool"]):
            issues.append(
                {
                    "path": "/network/stream_pool",
                    "message": "must not overlap operations_vpc_cidr "
                    f"{parsed['operations_vpc_cidr']}",
                }
            )
        for env, prefix in net["prefix_length"].items():
            if prefix < parsed["stream_pool"].prefixlen:
                issues.append(
                    {
                        "path": f"/network/prefix_length/{env}",
                        "message": "must be at least the pool's "
                        f"/{parsed['stream_pool'].prefixlen}",
                    }
                )
    names = [r["name"] for r in full["standard_roles"]]
    for index, name in enumerate(names):
        if names.index(name) != index:
            issues.append({"path": f"/standard_roles/{index}/name", "message": "duplicate name"})
    vault_roles = {r["name"] for r in full["standard_roles"] if "vault" in r["accounts"]}
    if full["audit_role"] not in vault_roles:
        issues.append(
            {"path": "/audit_role", "message": "must name a standard role given to the vault"}
        )
    emails = [a["email"].lower() for a in full["core_accounts"].values()]
    for kind, acct in full["core_accounts"].items():
        if emails.count(acct["email"].lower()) > 1:
            issues.append({"path": f"/core_accounts/{kind}/email", "message": "duplicate email"})
    return issues


def _build(full: dict[str, Any]) -> OrgConfig:
    return OrgConfig(
        home_region=full["home_region"],
        core_accounts={
            kind: CoreAccount(kind=kind, name=a["name"], email=a["email"])
            for kind, a in full["core_accounts"].items()
        },
        stream_email_template=full["stream_email_template"],
        organizational_units=dict(full["organizational_units"]),
        standard_roles=tuple(
            StandardRole(
                name=r["name"],
                accounts=tuple(r["accounts"]),
                managed_policies=tuple(r.get("managed_policies", ())),
                inline_policy=r.get("inline_policy"),
                max_session_seconds=r["max_session_seconds"],
                description=r.get("description", ""),
            )
            for r in full["standard_roles"]
        ),
        audit_role=full["audit_role"],
        network=_network(full["network"]),
        colours=dict(full["colours"]),
        approval_required=full["approval"]["required"],
        approval_timeout_seconds=full["approval"]["timeout_seconds"],
        poll_seconds=full["workflow"]["account_status_poll_seconds"],
        max_concurrent_environments=full["workflow"]["max_concurrent_environments"],
        account_usable_timeout_seconds=full["workflow"]["account_usable_timeout_seconds"],
        member_role_name=full["member_role_name"],
        tags=dict(full["tags"]),
        raw=full,
    )
