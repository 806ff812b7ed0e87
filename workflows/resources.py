"""The workflow's own resources, created with boto3 from the names ``infra/`` deploys.

moto's CloudFormation cannot create a state machine the interpreter sees, so the sandbox makes
queue, dead-letter queue, event bus, role and state machine here, from the same ASL file and
the same names as ``infra/template.yaml``; a test keeps the two in step.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import boto3
from botocore.exceptions import ClientError

from bootstrap.aws import client, error_code
from bootstrap.errors import OrgvendError
from workflows.definition import render, substitutions

__all__ = ["NAMES", "Deployment", "discover", "ensure_workflow_resources"]

NAMES = {
    "StepQueueName": "orgvend-steps",
    "DeadLetterQueueName": "orgvend-steps-dlq",
    "StateMachineName": "orgvend-stream-vending",
    "EventBusName": "orgvend",
    "StateMachineRoleName": "orgvend-state-machine",
}
MAX_RECEIVES = 5
"""A step message received this many times without an answer goes to the dead-letter queue."""


@dataclass(frozen=True)
class Deployment:
    step_queue_url: str
    dead_letter_queue_url: str
    state_machine_arn: str
    event_bus_name: str


def _queues(sqs: object, visibility_seconds: int) -> tuple[str, str]:
    dlq_url = sqs.create_queue(QueueName=NAMES["DeadLetterQueueName"])["QueueUrl"]  # type: ignore[attr-defined]
    dlq_arn = sqs.get_queue_attributes(  # type: ignore[attr-defined]
        QueueUrl=dlq_url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    attributes = {
        "VisibilityTimeout": str(visibility_seconds),
        "RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVES}
        ),
    }
    url = sqs.create_queue(QueueName=NAMES["StepQueueName"])["QueueUrl"]  # type: ignore[attr-defined]
    sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[attr-defined]
    return url, dlq_url


def _role(session: boto3.Session) -> str:
    iam = client(session, "iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "states.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = NAMES["StateMachineRoleName"]
    try:
        return str(iam.get_role(RoleName=name)["Role"]["Arn"])
    except ClientError as exc:
        if error_code(exc) != "NoSuchEntity":
            raise
    return str(
        iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    )


def _event_bus(session: boto3.Session) -> str:
    events = client(session, "events")
    name = NAMES["EventBusName"]
    try:
        events.describe_event_bus(Name=name)
    except ClientError as exc:
        if error_code(exc) != "ResourceNotFoundException":
            raise
        events.create_event_bus(Name=name)
    return name


def _state_machine(session: boto3.Session, definition: str, role_arn: str) -> str:
    sfn = client(session, "stepfunctions")
    name = NAMES["StateMachineName"]
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == name:
                arn = str(machine["stateMachineArn"])
                if sfn.describe_state_machine(stateMachineArn=arn)["definition"] != definition:
                    sfn.update_state_machine(stateMachineArn=arn, definition=definition)
                return arn
    created = sfn.create_state_machine(
        name=name, definition=definition, roleArn=role_arn, type="STANDARD"
    )
    return str(created["stateMachineArn"])


def ensure_workflow_resources(
    session: boto3.Session, *, visibility_seconds: int = 30
) -> Deployment:
    """Create or find every resource of the workflow; safe to call on every start."""
    sqs = client(session, "sqs")
    queue_url, dlq_url = _queues(sqs, visibility_seconds)
    bus = _event_bus(session)
    definition = render(substitutions(step_queue_url=queue_url, event_bus_name=bus))
    arn = _state_machine(session, definition, _role(session))
    return Deployment(
        step_queue_url=queue_url,
        dead_letter_queue_url=dlq_url,
        state_machine_arn=arn,
        event_bus_name=bus,
    )


def discover(session: boto3.Session) -> Deployment:
    """Find the deployed resources by name, creating nothing (for the CLI and the API)."""
    sqs = client(session, "sqs")
    sfn = client(session, "stepfunctions")
    arn = ""
    for page in sfn.get_paginator("list_state_machines").paginate():
        for machine in page["stateMachines"]:
            if machine["name"] == NAMES["StateMachineName"]:
                arn = str(machine["stateMachineArn"])
    if not arn:
        raise OrgvendError(
            f"No state machine named {NAMES['StateMachineName']}; is the sandbox running "
            "(`make run`), or set ORGVEND_STATE_MACHINE_ARN."
        )
    return Deployment(
        step_queue_url=str(sqs.get_queue_url(QueueName=NAMES["StepQueueName"])["QueueUrl"]),
        dead_letter_queue_url=str(
            sqs.get_queue_url(QueueName=NAMES["DeadLetterQueueName"])["QueueUrl"]
        ),
        state_machine_arn=arn,
        event_bus_name=NAMES["EventBusName"],
    )
