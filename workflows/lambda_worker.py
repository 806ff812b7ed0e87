"""The worker as an AWS Lambda function behind the step queue's event source.

Lambda receives the step messages (batch size 1) instead of a long-polling ``orgvend worker``,
and each one runs through the very same :meth:`workflows.worker.Worker.process`: heartbeat,
step handler, task answer, delete. A message whose processing raised is reported in
``batchItemFailures``, so only it returns to the queue (and, after ``MAX_RECEIVES`` tries, to
the dead-letter queue).

The org config lives outside the bundle, so a deployment changes it without a new release:
``ORGVEND_CONFIG`` is a file path, ``ssm:<parameter name>`` or ``s3://<bucket>/<key>``.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import boto3
import yaml
from botocore.exceptions import ClientError

from bootstrap.aws import client
from bootstrap.config import OrgConfig, load_config, parse_config
from bootstrap.errors import ConfigInvalid
from bootstrap.provisioning import StepTools
from bootstrap.settings import Settings
from workflows.worker import Worker

__all__ = [
    "FUNCTION_TIMEOUT_SECONDS",
    "HEARTBEAT_SECONDS",
    "RETRY_SECONDS",
    "VISIBILITY_SECONDS",
    "build_worker",
    "handle_event",
    "handler",
    "load_deployed_config",
]

log = logging.getLogger("orgvend.lambda_worker")

FUNCTION_TIMEOUT_SECONDS = 900
"""The worker function's timeout: Lambda's maximum, the longest step's ``TimeoutSeconds``."""
VISIBILITY_SECONDS = 960
"""The step queue's visibility timeout; Lambda requires it to exceed the function timeout."""
HEARTBEAT_SECONDS = 20.0
"""Shorter than every step's ``HeartbeatSeconds`` (60), so a working step never times out."""
RETRY_SECONDS = 10
"""How soon a message whose processing raised is offered again (``MAX_RECEIVES`` tries)."""


def load_deployed_config(session: boto3.Session, location: str) -> OrgConfig:
    """The org config from a file, an SSM parameter (``ssm:NAME``) or an S3 object."""
    if location.startswith("ssm:"):
        name = location.removeprefix("ssm:")
        reply = client(session, "ssm").get_parameter(Name=name, WithDecryption=True)
        text = str(reply["Parameter"]["Value"])
    elif location.startswith("s3://"):
        parts = urlsplit(location)
        body = client(session, "s3").get_object(Bucket=parts.netloc, Key=parts.path.lstrip("/"))
        text = body["Body"].read().decode("utf-8")
    else:
        return load_config(location)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigInvalid(location, [{"path": "", "message": f"not parseable: {exc}"}]) from exc
    return parse_config(data, source=location)


def build_worker(session: boto3.Session, settings: Settings) -> Worker:
    """A worker for one Lambda container: the org config is read once, at the first event."""
    config = load_deployed_config(session, settings.config_path)
    tools = StepTools.from_tables(
        session,
        config,
        streams=settings.tables.streams,
        links=settings.tables.links,
        cidrs=settings.tables.cidrs,
    )
    return Worker(
        tools,
        queue_url=settings.step_queue_url,
        concurrency=1,
        visibility_seconds=VISIBILITY_SECONDS,
        heartbeat_seconds=HEARTBEAT_SECONDS,
    )


def _as_message(record: dict[str, Any]) -> dict[str, Any]:
    """An SQS event record in the shape ``receive_message`` gives the long-polling worker."""
    return {
        "MessageId": record["messageId"],
        "ReceiptHandle": record["receiptHandle"],
        "Body": record["body"],
    }


def _retry_soon(worker: Worker, record: dict[str, Any]) -> None:
    """Make a failed message visible again in seconds, not after the long visibility timeout."""
    try:
        client(worker.tools.session, "sqs").change_message_visibility(
            QueueUrl=worker.queue_url,
            ReceiptHandle=record["receiptHandle"],
            VisibilityTimeout=RETRY_SECONDS,
        )
    except ClientError as exc:
        log.warning("could not shorten the visibility of %s: %s", record.get("messageId"), exc)


def handle_event(worker: Worker, event: dict[str, Any]) -> dict[str, Any]:
    """Process every record; report the ones that raised, so that only they are retried."""
    failures = []
    for record in event.get("Records", []):
        try:
            worker.process(_as_message(record))
        except Exception:
            log.exception("step message %s left for redelivery", record.get("messageId"))
            _retry_soon(worker, record)
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


@cache
def _worker(settings: Settings) -> Worker:
    return build_worker(boto3.Session(region_name=settings.region), settings)


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """The Lambda entry point (``workflows.lambda_worker.handler``)."""
    return handle_event(_worker(Settings.from_env()), event)
