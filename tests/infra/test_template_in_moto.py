"""The template's queues, tables, roles and functions create in the emulator's CloudFormation.

moto's CloudFormation cannot create the rest (a state machine it creates is invisible to the
Step Functions API while the interpreter is on; API Gateway resources are not created), so the
stack here is a reduced copy: only those four resource types, references to the others replaced
by inert strings, and inline code instead of the S3 bundle. Everything kept is the template's own.
"""

from __future__ import annotations

import ast
import json
import re
from typing import Any

import boto3
import pytest

from bootstrap.store import TABLES, TableNames
from workflows.resources import MAX_RECEIVES, NAMES

KEPT = {"AWS::SQS::Queue", "AWS::DynamoDB::Table", "AWS::IAM::Role", "AWS::Lambda::Function"}
INLINE_CODE = "def handler(event, context):\n    return {}\n"
PARAMETERS = {
    "OrganizationId": "o-exampleorg01",
    "UsersAccountId": "111111111111",
    "BundleBucket": "unused",
    "BundleKey": "unused.zip",
    "DefinitionKey": "unused.asl.json",
}


def _without(node: Any, dropped: set[str]) -> Any:
    """``node`` with every reference to a dropped resource replaced by a plain string."""
    if isinstance(node, list):
        return [_without(item, dropped) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("Ref") in dropped:
        return f"dropped-{node['Ref']}"
    if "Fn::GetAtt" in node and node["Fn::GetAtt"][0] in dropped:
        return "arn:aws:sqs:eu-west-2:123456789012:dropped-{}".format(*node["Fn::GetAtt"])
    if "Fn::Sub" in node and isinstance(node["Fn::Sub"], str):
        pattern = r"\$\{(" + "|".join(map(re.escape, dropped)) + r")(\.[A-Za-z]+)?\}"
        return {"Fn::Sub": re.sub(pattern, r"dropped-\1", node["Fn::Sub"])}
    return {k: _without(v, dropped) for k, v in node.items()}


def _reduced(template: dict[str, Any]) -> dict[str, Any]:
    resources = template["Resources"]
    dropped = {k for k, v in resources.items() if v["Type"] not in KEPT}
    kept = {k: _without(v, dropped) for k, v in resources.items() if k not in dropped}
    for resource in kept.values():
        if resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"ZipFile": INLINE_CODE}
            resource["Properties"].pop("LoggingConfig")
    return {
        "AWSTemplateFormatVersion": template["AWSTemplateFormatVersion"],
        "Parameters": template["Parameters"],
        "Conditions": template["Conditions"],
        "Resources": kept,
    }


def _document(value: str | dict[str, Any]) -> dict[str, Any]:
    """A policy document as IAM returns it; moto's CloudFormation stores a Python repr."""
    if isinstance(value, dict):
        return value
    try:
        return dict(json.loads(value))
    except ValueError:
        return dict(ast.literal_eval(value))


@pytest.fixture
def stack(aws: boto3.Session, template: dict[str, Any]) -> dict[str, Any]:
    cfn = aws.client("cloudformation")
    cfn.create_stack(
        StackName="orgvend",
        TemplateBody=json.dumps(_reduced(template)),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in PARAMETERS.items()],
        Capabilities=["CAPABILITY_NAMED_IAM"],
    )
    return dict(cfn.describe_stacks(StackName="orgvend")["Stacks"][0])


def test_create_reduced_stack_completes(stack: dict[str, Any], template: dict[str, Any]) -> None:
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    kept = [k for k, v in template["Resources"].items() if v["Type"] in KEPT]
    assert len(kept) == 10


def test_create_tables_with_store_keys(aws: boto3.Session, stack: dict[str, Any]) -> None:
    ddb = aws.client("dynamodb")
    for logical, keys in TABLES.items():
        table = ddb.describe_table(TableName=getattr(TableNames(), logical))["Table"]
        assert tuple((k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]) == keys


def test_create_step_queue_with_redrive(aws: boto3.Session, stack: dict[str, Any]) -> None:
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName=NAMES["StepQueueName"])["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName=NAMES["DeadLetterQueueName"])["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq_arn,
        "maxReceiveCount": MAX_RECEIVES,
    }
    assert attributes["VisibilityTimeout"] == "960"


def test_create_worker_role_assumes_only_member_role(
    aws: boto3.Session, stack: dict[str, Any]
) -> None:
    iam = aws.client("iam")
    role = iam.get_role(RoleName="orgvend-worker")["Role"]
    trust = _document(role["AssumeRolePolicyDocument"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
    reply = iam.get_role_policy(RoleName="orgvend-worker", PolicyName="worker")
    document = _document(reply["PolicyDocument"])
    assume = [s for s in document["Statement"] if s["Action"] == "sts:AssumeRole"]
    assert [s["Resource"] for s in assume] == [
        ["arn:aws:iam::*:role/OrganizationAccountAccessRole"]
    ]
    config = next(s for s in document["Statement"] if s["Sid"] == "OrgConfig")
    assert config["Action"] == "ssm:GetParameter"
    assert config["Resource"].endswith(":parameter/orgvend/org-config")


def test_create_functions_with_handlers_and_settings(
    aws: boto3.Session, stack: dict[str, Any]
) -> None:
    lam = aws.client("lambda")
    worker = lam.get_function_configuration(FunctionName="orgvend-worker")
    assert worker["Handler"] == "workflows.lambda_worker.handler"
    assert worker["Timeout"] == 900
    variables = worker["Environment"]["Variables"]
    # moto's Ref gives the AWS-style URL, get_queue_url the emulator's: compare the path.
    assert variables["ORGVEND_STEP_QUEUE_URL"].endswith(f"/123456789012/{NAMES['StepQueueName']}")
    assert variables["ORGVEND_STREAMS_TABLE"] == TableNames().streams
    assert variables["ORGVEND_CONFIG"] == "ssm:/orgvend/org-config"
    api = lam.get_function_configuration(FunctionName="orgvend-api")
    assert api["Handler"] == "api.lambda_handler.handler"
    assert api["Role"].endswith(":role/orgvend-api")
