"""The worker Lambda handler, given SQS events, runs real steps against the emulator."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from bootstrap.store import DynamoRecordTable, TableNames, ensure_tables
from bootstrap.streams import StreamStore
from workflows import lambda_worker

ROOT = Path(__file__).resolve().parents[2]
CONFIG_PARAMETER = "/orgvend/org-config"


def _machine(queue_url: str) -> str:
    """One callback task like the ASL's MarkRunning (moto heartbeats need HeartbeatSeconds)."""
    return json.dumps(
        {
            "StartAt": "MarkRunning",
            "States": {
                "MarkRunning": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
                    "Parameters": {
                        "QueueUrl": queue_url,
                        "MessageBody": {
                            "step": "MarkRunning",
                            "stream.$": "$.stream",
                            "execution.$": "$$.Execution.Id",
                            "token.$": "$$.Task.Token",
                        },
                    },
                    "TimeoutSeconds": 60,
                    "HeartbeatSeconds": 30,
                    "End": True,
                }
            },
        }
    )


@pytest.fixture
def deployed(aws: boto3.Session, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Tables, a step queue, the org config in SSM, and the functions' environment."""
    ensure_tables(aws, TableNames())
    queue_url = aws.client("sqs").create_queue(QueueName=f"steps-{uuid.uuid4().hex[:8]}")[
        "QueueUrl"
    ]
    aws.client("ssm").put_parameter(
        Name=CONFIG_PARAMETER,
        Type="String",
        Value=(ROOT / "examples" / "org.yaml").read_text(encoding="utf-8"),
    )
    machine = aws.client("stepfunctions").create_state_machine(
        name=f"tiny-{uuid.uuid4().hex[:8]}",
        definition=_machine(queue_url),
        roleArn="arn:aws:iam::123456789012:role/orgvend-state-machine",
    )["stateMachineArn"]
    monkeypatch.setenv("ORGVEND_CONFIG", f"ssm:{CONFIG_PARAMETER}")
    monkeypatch.setenv("ORGVEND_STEP_QUEUE_URL", queue_url)
    return {"queue_url": queue_url, "machine": machine}


def _start(aws: boto3.Session, machine: str, stream: str) -> str:
    sfn = aws.client("stepfunctions")
    return str(
        sfn.start_execution(
            stateMachineArn=machine, name=f"{stream}-1", input=json.dumps({"stream": stream})
        )["executionArn"]
    )


def _event_from_queue(aws: boto3.Session, queue_url: str) -> dict[str, Any]:
    """The step message, received and reshaped the way Lambda's SQS event source hands it on."""
    sqs = aws.client("sqs")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            m = messages[0]
            record = {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "eventSource": "aws:sqs",
                "attributes": {"ApproximateReceiveCount": "1"},
            }
            return {"Records": [record]}
    raise AssertionError("the state machine sent no step message")


def _final_status(aws: boto3.Session, execution: str) -> dict[str, Any]:
    sfn = aws.client("stepfunctions")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            return dict(described)
        time.sleep(0.05)
    raise AssertionError(f"{execution} is still RUNNING")


def _queue_is_empty(aws: boto3.Session, queue_url: str) -> bool:
    attributes = aws.client("sqs").get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return set(attributes.values()) == {"0"}


def test_handler_runs_step_and_answers_task(aws: boto3.Session, deployed: dict[str, Any]) -> None:
    streams = StreamStore(DynamoRecordTable(aws, TableNames().streams))
    streams.create({"name": "payments", "status": "PENDING_APPROVAL", "accounts": {}})
    execution = _start(aws, deployed["machine"], "payments")
    event = _event_from_queue(aws, deployed["queue_url"])

    reply = lambda_worker.handler(event, None)

    assert reply == {"batchItemFailures": []}
    assert streams.require("payments")["status"] == "RUNNING"
    assert _final_status(aws, execution)["status"] == "SUCCEEDED"
    assert _queue_is_empty(aws, deployed["queue_url"])


def test_handler_reports_failed_step_to_workflow_not_to_queue(
    aws: boto3.Session, deployed: dict[str, Any]
) -> None:
    execution = _start(aws, deployed["machine"], "unknown-stream")
    event = _event_from_queue(aws, deployed["queue_url"])

    reply = lambda_worker.handler(event, None)

    assert reply == {"batchItemFailures": []}
    final = _final_status(aws, execution)
    assert final["status"] == "FAILED"
    assert final.get("error") == "StreamNotFound"
    assert _queue_is_empty(aws, deployed["queue_url"])


def test_handler_returns_unprocessable_message_to_queue(
    aws: boto3.Session, deployed: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lambda_worker, "RETRY_SECONDS", 0)
    sqs = aws.client("sqs")
    sqs.send_message(QueueUrl=deployed["queue_url"], MessageBody="not a step message")
    event = _event_from_queue(aws, deployed["queue_url"])
    message_id = event["Records"][0]["messageId"]

    reply = lambda_worker.handler(event, None)

    assert reply == {"batchItemFailures": [{"itemIdentifier": message_id}]}
    assert not _queue_is_empty(aws, deployed["queue_url"])
    again = _event_from_queue(aws, deployed["queue_url"])
    assert again["Records"][0]["messageId"] == message_id


def test_load_deployed_config_reads_s3_object(aws: boto3.Session) -> None:
    s3 = aws.client("s3")
    s3.create_bucket(
        Bucket="org-config", CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    s3.put_object(
        Bucket="org-config", Key="org/org.yaml", Body=(ROOT / "examples" / "org.yaml").read_bytes()
    )

    config = lambda_worker.load_deployed_config(aws, "s3://org-config/org/org.yaml")

    assert config.member_role_name == "OrganizationAccountAccessRole"
    assert config.core_accounts["users"].email == "aws+users@example.com"
