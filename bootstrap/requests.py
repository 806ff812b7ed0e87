"""Stream requests: schema validation, then the checks only the org config can answer."""

from __future__ import annotations

import hashlib
import json
from ipaddress import IPv4Network
from typing import Any

from bootstrap.config import OrgConfig
from bootstrap.errors import RequestInvalid, ValidationIssue
from bootstrap.validation import apply_defaults, load_schema, validate

__all__ = ["fingerprint", "normalise_request"]


def _org_issues(request: dict[str, Any], config: OrgConfig) -> list[ValidationIssue]:
    issues: list[ValidationIssue] = []
    known = [r.name for r in config.standard_roles]
    for index, name in enumerate(request.get("roles", [])):
        if name not in known:
            issues.append(
                {
                    "path": f"/roles/{index}",
                    "message": f"{name!r} is not a standard role; allowed: {', '.join(known)}",
                }
            )
    pool = config.network.stream_pool
    for env, text in request.get("cidr", {}).items():
        path = f"/cidr/{env}"
        if env not in request["environments"]:
            issues.append({"path": path, "message": f"{env} is not in /environments"})
            continue
        try:
            cidr = IPv4Network(text)
        except ValueError as exc:
            issues.append({"path": path, "message": f"not a network address: {exc}"})
            continue
        if not cidr.subnet_of(pool):
            issues.append({"path": path, "message": f"must lie inside the stream pool {pool}"})
        elif cidr.overlaps(config.network.operations_vpc_cidr):
            issues.append({"path": path, "message": "overlaps the operations hub VPC"})
    for env in request["environments"]:
        name = f"{request['name']}-{env}"
        if len(name) > 50:
            issues.append(
                {"path": "/name", "message": f"account name {name} is over 50 characters"}
            )
    return issues


def normalise_request(
    data: Any, config: OrgConfig, *, source: str = "stream request"
) -> dict[str, Any]:
    """The request with defaults filled in, or :class:`RequestInvalid` naming every bad field."""
    issues = validate(data, "stream-request")
    if issues:
        raise RequestInvalid(source, issues)
    request = apply_defaults(data, load_schema("stream-request"))
    issues = _org_issues(request, config)
    if issues:
        raise RequestInvalid(source, issues)
    request["environments"] = sorted(request["environments"], key=("live", "devtest").index)
    return request


def fingerprint(request: dict[str, Any]) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
