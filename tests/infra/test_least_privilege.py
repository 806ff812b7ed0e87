"""Every AWS call the deployed code makes is allowed to the role that makes it, and no more.

The calls are found by reading ``bootstrap/``, ``workflows/`` and ``api/`` with ``ast``
(tests/infra/aws_calls.py explains the heuristic and its limits) and, for the state machine,
from the ASL's Task resources. Actions the code does not call itself but AWS requires for
what the code does are listed in ``IMPLIED`` with the reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_calls import Call, Index, action, decorated, reachable_calls, unnamed_clients

from workflows.definition import task_states

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"

_LOGS = {"logs:CreateLogStream", "logs:PutLogEvents"}
IMPLIED: dict[str, dict[str, str]] = {
    "WorkerRole": {
        **{a: "the Lambda runtime writes the function's logs" for a in _LOGS},
        "sqs:ReceiveMessage": "the SQS event source mapping polls with the function's role",
        "sqs:GetQueueAttributes": "the SQS event source mapping reads the queue's settings",
        "sqs:DeleteMessage": "the event source mapping deletes what the function processed",
        "organizations:TagResource": "CreateAccount with Tags requires it",
    },
    "ApiRole": {a: "the Lambda runtime writes the function's logs" for a in _LOGS},
    "StateMachineRole": {
        f"logs:{a}": "Step Functions delivers execution logs to CloudWatch Logs"
        for a in (
            "CreateLogDelivery",
            "GetLogDelivery",
            "UpdateLogDelivery",
            "DeleteLogDelivery",
            "ListLogDeliveries",
            "PutResourcePolicy",
            "DescribeResourcePolicies",
            "DescribeLogGroups",
        )
    },
}
FORBIDDEN = {
    "organizations:CreateOrganization",
    "organizations:EnablePolicyType",
    "organizations:DeleteOrganization",
    "organizations:UpdatePolicy",
}
"""Organisation-wide changes the worker must never make: only the bootstrap does."""
WILDCARD_ONLY = {
    "states:SendTaskSuccess",
    "states:SendTaskFailure",
    "states:SendTaskHeartbeat",
    "organizations:CreateAccount",
    "organizations:DescribeCreateAccountStatus",
    "organizations:DescribeOrganization",
    "organizations:ListAccounts",
    "organizations:ListCreateAccountStatus",
    "organizations:ListRoots",
    "organizations:TagResource",
    *IMPLIED["StateMachineRole"],
}
"""Actions IAM cannot scope to a resource here, the only ones allowed on ``"*"``."""


@pytest.fixture(scope="module")
def index() -> Index:
    return Index()


def _worker_entry_points(index: Index) -> list[str]:
    handlers = [
        key
        for key in index.functions
        if key.startswith("workflows.handlers.") and key.endswith(":handle")
    ]
    # HANDLERS[step](...) is a call through a dict, invisible to the call graph.
    return ["workflows.lambda_worker:handler", *handlers]


def _api_entry_points(index: Index) -> list[str]:
    # Routes and handlers are registered by decorators, never called by name.
    return ["api.lambda_handler:handler", *decorated(index, "api")]


def _asl_actions() -> set[str]:
    found = set()
    for _, state in task_states():
        match = re.match(r"arn:aws:states:::(aws-sdk:)?([a-z0-9]+):([A-Za-z]+)", state["Resource"])
        assert match, state["Resource"]
        service, operation = match.group(2), match.group(3)
        found.add(action(service, operation[0].upper() + operation[1:]))
    return found


def _needed(role: str, index: Index) -> tuple[set[str], set[Call]]:
    """The actions a role's own credentials sign, and the member-account calls beside them."""
    if role == "StateMachineRole":
        return _asl_actions(), set()
    entry = _worker_entry_points(index) if role == "WorkerRole" else _api_entry_points(index)
    calls = reachable_calls(index, entry)
    own = {c.action for c in calls if not c.member}
    return own, {c for c in calls if c.member}


def _values(node: Any) -> Iterator[Any]:
    """Both branches of every Fn::If: a role must allow what either configuration calls."""
    if isinstance(node, dict) and "Fn::If" in node:
        for branch in node["Fn::If"][1:]:
            yield from _values(branch)
    elif isinstance(node, list):
        for item in node:
            yield from _values(item)
    else:
        yield node


def _statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = resources[role]["Properties"]["Policies"]
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _allowed(resources: dict[str, Any], role: str) -> set[str]:
    return {
        str(a)
        for s in _statements(resources, role)
        if s["Effect"] == "Allow"
        for a in _values(s["Action"])
    }


ROLES = ("WorkerRole", "ApiRole", "StateMachineRole")


@pytest.mark.parametrize("role", ROLES)
def test_role_allows_every_call_its_code_makes(
    role: str, index: Index, resources: dict[str, Any]
) -> None:
    own, _ = _needed(role, index)
    wanted = own | set(IMPLIED[role])
    missing = wanted - _allowed(resources, role)
    assert not missing, f"{role} lacks {sorted(missing)}"


@pytest.mark.parametrize("role", ROLES)
def test_role_allows_no_action_nobody_calls(
    role: str, index: Index, resources: dict[str, Any]
) -> None:
    own, _ = _needed(role, index)
    extra = _allowed(resources, role) - own - set(IMPLIED[role])
    assert not extra, f"{role} allows {sorted(extra)}, which its code never calls"


def test_worker_withholds_organisation_wide_changes(
    index: Index, resources: dict[str, Any]
) -> None:
    own, _ = _needed("WorkerRole", index)
    assert not FORBIDDEN & own, "worker code reaches an organisation-wide change"
    assert not FORBIDDEN & _allowed(resources, "WorkerRole")


def test_worker_acts_in_member_accounts_only_through_member_role(
    index: Index, resources: dict[str, Any]
) -> None:
    own, member = _needed("WorkerRole", index)
    member_actions = {c.action for c in member}
    assert {"iam:CreateRole", "ec2:CreateVpc", "ec2:AcceptVpcPeeringConnection"} <= member_actions
    allowed = _allowed(resources, "WorkerRole")
    assert not {a for a in allowed if a.startswith(("iam:", "ec2:"))}
    assume = [s for s in _statements(resources, "WorkerRole") if s["Action"] == "sts:AssumeRole"]
    assert [r for s in assume for r in s["Resource"]] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    ]
    assert "sts:AssumeRole" in own


def test_no_role_allows_every_action(resources: dict[str, Any]) -> None:
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for statement in _statements(resources, name):
            for granted in _values(statement["Action"]):
                assert granted != "*" and not str(granted).endswith(":*"), (name, granted)


def test_wildcard_resources_only_for_unscopable_actions(resources: dict[str, Any]) -> None:
    for role in ROLES:
        for statement in _statements(resources, role):
            if "*" in list(_values(statement["Resource"])):
                actions = set(_values(statement["Action"]))
                assert actions <= WILDCARD_ONLY, (role, statement.get("Sid"), actions)


def test_every_wildcard_in_template_has_a_comment() -> None:
    lines = TEMPLATE_PATH.read_text(encoding="utf-8").splitlines()
    start, end = lines.index("Resources:"), lines.index("Outputs:")
    for number, line in enumerate(lines[start:end], start=start + 1):
        code = line.split("#")[0]
        if not re.search(r"(Resource: \"\*\"|iam::\*|/\*\"|:\*\")", code):
            continue
        above = [text.strip() for text in lines[max(0, number - 3) : number - 1]]
        commented = "#" in line or any(text.startswith("#") for text in above)
        assert commented, f"template.yaml:{number}: {line.strip()}"


def test_analyser_sees_every_client(index: Index) -> None:
    assert unnamed_clients(index) == []


def test_analyser_finds_account_creation_from_its_handler(index: Index) -> None:
    calls = reachable_calls(index, ["workflows.handlers.ensure_account:handle"])
    actions = {c.action for c in calls}
    assert "organizations:CreateAccount" in actions
    assert "iam:CreateRole" not in actions
    assert json.dumps(sorted(actions))  # a plain, printable list for the docs
