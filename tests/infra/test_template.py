"""infra/template.yaml agrees with the code the sandbox runs: names, keys, placeholders, limits."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from bootstrap.settings import Settings
from bootstrap.store import TABLES, TableNames
from workflows import lambda_worker
from workflows.definition import EVENT_SOURCE, placeholders, substitutions, task_states
from workflows.resources import MAX_RECEIVES, NAMES

TEMPLATE_PATH = Path(__file__).resolve().parents[2] / "infra" / "template.yaml"

TABLE_RESOURCES = {"streams": "StreamsTable", "links": "LinksTable", "cidrs": "CidrsTable"}
FUNCTIONS = ("WorkerFunction", "ApiFunction")


def _default_name(template: dict[str, Any], value: Any) -> str:
    """A ``!Sub "${NamePrefix}-x"`` / ``!Ref NamePrefix`` name, with the default prefix."""
    prefix = template["Parameters"]["NamePrefix"]["Default"]
    if value == {"Ref": "NamePrefix"}:
        return str(prefix)
    return str(value["Fn::Sub"]).replace("${NamePrefix}", prefix)


def test_template_substitutes_every_asl_placeholder(resources: dict[str, Any]) -> None:
    machine = resources["StateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == placeholders()
    assert set(substitutions(step_queue_url="q", event_bus_name="b")) == placeholders()
    assert machine["DefinitionSubstitutions"]["EventSourceName"] == EVENT_SOURCE


def test_template_rules_match_the_events_the_asl_publishes(resources: dict[str, Any]) -> None:
    published = {
        entry["DetailType"]
        for _, state in task_states()
        if state["Resource"] == "arn:aws:states:::events:putEvents"
        for entry in state["Parameters"]["Entries"]
    }
    patterns = [
        r["Properties"]["EventPattern"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
    ]
    assert (
        {t for p in patterns for t in p["detail-type"]}
        == published
        == {
            "StreamReady",
            "StreamFailed",
        }
    )
    assert all(p["source"] == [EVENT_SOURCE] for p in patterns)


@pytest.mark.parametrize("logical", sorted(TABLES))
def test_template_table_matches_store(
    logical: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    table = resources[TABLE_RESOURCES[logical]]
    props = table["Properties"]
    assert _default_name(template, props["TableName"]) == getattr(TableNames(), logical)
    keys = tuple((k["AttributeName"], k["KeyType"]) for k in props["KeySchema"])
    assert keys == TABLES[logical]
    assert {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]} == {
        name: "S" for name, _ in TABLES[logical]
    }
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["DeletionProtectionEnabled"] is True
    assert props["SSESpecification"]["SSEEnabled"] is True
    assert table["DeletionPolicy"] == table["UpdateReplacePolicy"] == "Retain"


def test_template_names_match_the_sandbox(
    template: dict[str, Any], resources: dict[str, Any]
) -> None:
    name = lambda logical, prop: _default_name(template, resources[logical]["Properties"][prop])  # noqa: E731
    assert name("StepQueue", "QueueName") == NAMES["StepQueueName"]
    assert name("DeadLetterQueue", "QueueName") == NAMES["DeadLetterQueueName"]
    assert name("StateMachine", "StateMachineName") == NAMES["StateMachineName"]
    assert name("EventBus", "Name") == NAMES["EventBusName"]
    assert name("StateMachineRole", "RoleName") == NAMES["StateMachineRoleName"]


def test_template_step_queue_redrives_to_dead_letter_queue(resources: dict[str, Any]) -> None:
    redrive = resources["StepQueue"]["Properties"]["RedrivePolicy"]
    assert redrive == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetterQueue", "Arn"]},
        "maxReceiveCount": MAX_RECEIVES,
    }
    alarm = resources["DeadLetterAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["DeadLetterQueue", "QueueName"]}
    assert alarm["Threshold"] == 1 and alarm["AlarmActions"]


def test_template_worker_outlasts_the_longest_step(resources: dict[str, Any]) -> None:
    longest = max(
        s["TimeoutSeconds"]
        for _, s in task_states()
        if s["Resource"].startswith("arn:aws:states:::sqs:sendMessage") and "TimeoutSeconds" in s
    )
    timeout = resources["WorkerFunction"]["Properties"]["Timeout"]
    visibility = resources["StepQueue"]["Properties"]["VisibilityTimeout"]
    assert timeout == lambda_worker.FUNCTION_TIMEOUT_SECONDS >= longest
    assert visibility == lambda_worker.VISIBILITY_SECONDS > timeout
    heartbeats = [s["HeartbeatSeconds"] for _, s in task_states() if "HeartbeatSeconds" in s]
    assert min(heartbeats) > lambda_worker.HEARTBEAT_SECONDS


def test_template_worker_takes_one_message_and_reports_failures(resources: dict[str, Any]) -> None:
    mapping = resources["WorkerEventSource"]["Properties"]
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["StepQueue", "Arn"]}
    assert mapping["BatchSize"] == 1
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    handler = resources["WorkerFunction"]["Properties"]["Handler"]
    assert handler == "workflows.lambda_worker.handler"
    assert callable(lambda_worker.handler)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_template_function_environment_covers_settings(
    function: str, resources: dict[str, Any]
) -> None:
    variables = resources[function]["Properties"]["Environment"]["Variables"]
    # AWS_REGION is reserved: Lambda sets it itself.
    assert set(Settings().to_env()) - {"AWS_REGION"} <= set(variables)


@pytest.mark.parametrize("function", FUNCTIONS)
def test_template_function_logs_to_retained_group(
    function: str, template: dict[str, Any], resources: dict[str, Any]
) -> None:
    group = resources[function]["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
    props = resources[group]["Properties"]
    assert props["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    name = _default_name(template, resources[function]["Properties"]["FunctionName"])
    assert _default_name(template, props["LogGroupName"]) == f"/aws/lambda/{name}"


def test_template_every_log_group_has_retention(resources: dict[str, Any]) -> None:
    groups = [r for r in resources.values() if r["Type"] == "AWS::Logs::LogGroup"]
    assert len(groups) == 4
    assert all("RetentionInDays" in g["Properties"] for g in groups)


def test_template_api_requires_iam_on_every_method(resources: dict[str, Any]) -> None:
    methods = [
        r["Properties"] for r in resources.values() if r["Type"] == "AWS::ApiGateway::Method"
    ]
    assert len(methods) == 2
    assert all(m["AuthorizationType"] == "AWS_IAM" for m in methods)
    assert all(m["Integration"]["Type"] == "AWS_PROXY" for m in methods)
    assert resources["ApiFunction"]["Properties"]["Handler"] == "api.lambda_handler.handler"


def test_template_users_account_needs_mfa_to_call_api(resources: dict[str, Any]) -> None:
    statements = resources["RestApi"]["Properties"]["Policy"]["Statement"]
    users = next(s["Fn::If"][1] for s in statements if "Fn::If" in s)
    assert "${UsersAccountId}" in users["Principal"]["AWS"]["Fn::Sub"]
    assert users["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}


def test_template_release_parameters_match_deploy(template: dict[str, Any]) -> None:
    source = (TEMPLATE_PATH.parents[1] / "orgvend" / "deploy.py").read_text(encoding="utf-8")
    for parameter in ("BundleBucket", "BundleKey", "DefinitionKey"):
        assert parameter in template["Parameters"]
        assert re.search(rf'"{parameter}"', source)
