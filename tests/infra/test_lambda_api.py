"""The API Lambda handler answers API Gateway proxy events, with roles from the IAM caller."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from starlette.requests import HTTPConnection

from api import lambda_handler
from api.auth import Principal, Role
from api.iam_roles import IamPrincipalRoleSource, caller_arn
from bootstrap.errors import ConfigInvalid
from bootstrap.store import TableNames, ensure_tables

ROOT = Path(__file__).resolve().parents[2]
ALICE = "arn:aws:iam::111111111111:user/alice"
OPS_SESSION = "arn:aws:sts::123456789012:assumed-role/orgvend-ops/bob"
ROLE_MAP = {
    "arn:aws:iam::111111111111:user/*": "viewer",
    "arn:aws:sts::*:assumed-role/orgvend-ops/*": "ops",
}


def _rest_event(
    method: str, path: str, caller: str | None, body: str | None = None
) -> dict[str, Any]:
    """A REST API (v1) proxy event as API Gateway sends it for an AWS_IAM method."""
    identity = {"userArn": caller, "caller": "AIDAEXAMPLE", "sourceIp": "192.0.2.1"}
    headers = {"host": "abc123.execute-api.eu-west-2.amazonaws.com", "accept": "application/json"}
    if body is not None:
        headers["content-type"] = "application/json"
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/v1{path}",
            "stage": "v1",
            "identity": identity if caller else {"sourceIp": "192.0.2.1"},
            "requestId": str(uuid.uuid4()),
            "accountId": "123456789012",
            "apiId": "abc123",
        },
        "body": body,
        "isBase64Encoded": False,
    }


@pytest.fixture
def api_env(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> TableNames:
    """Tables and the org config in SSM; a unique streams table gives this test its own app."""
    names = TableNames(streams=f"orgvend-streams-{uuid.uuid4().hex[:8]}")
    ensure_tables(aws, names)
    aws.client("ssm").put_parameter(
        Name="/orgvend/org-config",
        Type="String",
        Value=(ROOT / "examples" / "org.yaml").read_text(encoding="utf-8"),
    )
    monkeypatch.setenv("ORGVEND_CONFIG", "ssm:/orgvend/org-config")
    monkeypatch.setenv("ORGVEND_STREAMS_TABLE", names.streams)
    monkeypatch.setenv("ORGVEND_IAM_ROLE_MAP", json.dumps(ROLE_MAP))
    return names


def test_handler_answers_health_check(api_env: TableNames) -> None:
    reply = lambda_handler.handler(_rest_event("GET", "/healthz", None), None)
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {"status": "ok"}


def test_handler_lists_streams_for_mapped_iam_user(api_env: TableNames) -> None:
    reply = lambda_handler.handler(_rest_event("GET", "/api/streams", ALICE), None)
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"])["items"] == []


def test_handler_refuses_unmapped_principal(api_env: TableNames) -> None:
    stranger = "arn:aws:iam::999999999999:user/mallory"
    reply = lambda_handler.handler(_rest_event("GET", "/api/streams", stranger), None)
    assert reply["statusCode"] == 401
    assert reply["headers"]["content-type"].startswith("application/problem+json")


def test_handler_forbids_viewer_to_approve(api_env: TableNames) -> None:
    event = _rest_event("POST", "/api/streams/payments/approve", ALICE, body="{}")
    reply = lambda_handler.handler(event, None)
    assert reply["statusCode"] == 403


def test_handler_ignores_bearer_tokens(api_env: TableNames) -> None:
    event = _rest_event("GET", "/api/streams", None)
    event["headers"]["authorization"] = "Bearer ov_anything"
    event["multiValueHeaders"]["authorization"] = ["Bearer ov_anything"]
    assert lambda_handler.handler(event, None)["statusCode"] == 401


def _connection(event: dict[str, Any] | None) -> HTTPConnection:
    scope: dict[str, Any] = {"type": "http", "headers": []}
    if event is not None:
        scope["aws.event"] = event
    return HTTPConnection(scope)


def test_role_source_maps_http_api_caller_to_highest_matching_role() -> None:
    roles = IamPrincipalRoleSource.from_json(
        json.dumps({"arn:aws:sts::*:assumed-role/*": "viewer", **ROLE_MAP})
    )
    event = {"requestContext": {"authorizer": {"iam": {"userArn": OPS_SESSION}}}}
    assert caller_arn(event) == OPS_SESSION
    assert roles.from_connection(_connection(event)) == Principal(OPS_SESSION, Role.OPS)


def test_role_source_vouches_for_nobody_outside_lambda() -> None:
    roles = IamPrincipalRoleSource.from_json(json.dumps({"*": "ops"}))
    assert roles.from_connection(_connection(None)) is None
    assert roles.from_token("ov_anything") is None


def test_role_source_refuses_unknown_role_name() -> None:
    with pytest.raises(ConfigInvalid) as caught:
        IamPrincipalRoleSource.from_json(json.dumps({"arn:aws:iam::1:user/*": "admin"}))
    assert caught.value.errors[0]["path"] == "/arn:aws:iam::1:user~1*"
    assert "allowed: viewer, requester, ops" in caught.value.errors[0]["message"]
