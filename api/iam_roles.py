"""Roles for callers that API Gateway has authenticated with IAM (SigV4, ``AWS_IAM``).

Behind API Gateway the caller's identity is not a bearer token but the IAM principal that
signed the request, which API Gateway puts in the event it hands the Lambda function (Mangum
passes that event on as ``scope["aws.event"]``). :class:`IamPrincipalRoleSource` maps that ARN
to a role through globs, e.g. ``{"arn:aws:sts::111111111111:assumed-role/ops-*/*": "ops"}``;
when several globs match, the highest role wins, and an ARN no glob matches gets no role.

Only the event is trusted: outside Lambda there is no ``aws.event`` and nobody is vouched for,
so no header a client sends can pose as an IAM identity.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from starlette.requests import HTTPConnection

from api.auth import Principal, Role, RoleSource
from bootstrap.errors import ConfigInvalid
from bootstrap.settings import Settings

__all__ = ["ROLE_MAP_VARIABLE", "IamPrincipalRoleSource", "caller_arn"]

ROLE_MAP_VARIABLE = "ORGVEND_IAM_ROLE_MAP"


def caller_arn(event: Mapping[str, Any]) -> str | None:
    """The signing principal's ARN in a REST API (v1) or HTTP API (v2) proxy event."""
    context = event.get("requestContext") or {}
    iam = (context.get("authorizer") or {}).get("iam") or {}
    if iam.get("userArn"):
        return str(iam["userArn"])
    identity = context.get("identity") or {}
    found = identity.get("userArn") or identity.get("caller")
    return str(found) if found else None


class IamPrincipalRoleSource(RoleSource):
    def __init__(self, mapping: Mapping[str, Role]) -> None:
        self.mapping = dict(mapping)

    @classmethod
    def from_json(cls, text: str, *, source: str = ROLE_MAP_VARIABLE) -> IamPrincipalRoleSource:
        """Parse ``{"<ARN glob>": "viewer|requester|ops"}``; a bad entry fails at start-up."""
        try:
            data = json.loads(text or "{}")
        except ValueError as exc:
            raise ConfigInvalid(source, [{"path": "", "message": f"not JSON: {exc}"}]) from exc
        if not isinstance(data, dict):
            raise ConfigInvalid(source, [{"path": "", "message": "must be a JSON object"}])
        mapping: dict[str, Role] = {}
        issues = []
        for glob, role in data.items():
            try:
                mapping[str(glob)] = Role.parse(str(role))
            except ValueError as exc:
                issues.append(
                    {
                        "path": "/" + str(glob).replace("~", "~0").replace("/", "~1"),
                        "message": str(exc),
                    }
                )
        if issues:
            raise ConfigInvalid(source, issues)
        return cls(mapping)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> IamPrincipalRoleSource:
        return cls.from_json(Settings.from_env(environ).iam_role_map)

    def role_for_arn(self, arn: str) -> Role | None:
        matched = [role for glob, role in self.mapping.items() if fnmatchcase(arn, glob)]
        return max(matched) if matched else None

    def from_token(self, token: str) -> Principal | None:
        """Bearer tokens are not accepted where IAM authenticates every request."""
        return None

    def from_connection(self, connection: HTTPConnection) -> Principal | None:
        event = connection.scope.get("aws.event")
        if not isinstance(event, Mapping):
            return None
        arn = caller_arn(event)
        role = self.role_for_arn(arn) if arn else None
        return Principal(arn, role) if arn and role else None
