"""A worker process killed in the middle of a step: the message comes back, another worker
finishes the step, and nothing exists twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest
from faults import Fault, slowed
from moto.iam.models import IAMBackend
from sandboxes import running_sandbox
from vend_helpers import accounts_with_email, inside, links_of, request, vend, wait_until

from bootstrap.config import OrgConfig
from bootstrap.emulator import Emulator
from orgvend.sandbox import Sandbox
from workflows import handlers, worker
from workflows.vending import stream_store


@pytest.fixture(scope="module")
def idle_sandbox(emulator: Emulator, org_config: OrgConfig) -> Iterator[Sandbox]:
    """A sandbox with no worker threads: the test decides who works."""
    with running_sandbox(emulator, org_config, workers=0, visibility_seconds=3) as box:
        yield box


def _worker_process() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orgvend",
            "worker",
            "--concurrency",
            "1",
            "--visibility-seconds",
            "3",
        ],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait_for_step(box: Sandbox, name: str, env: str, step: str) -> None:
    assert box.session is not None
    streams = stream_store(box.session, box.settings)
    deadline = time.monotonic() + 60
    while streams.require(name)["accounts"][env].get("step") != step:
        assert time.monotonic() < deadline, f"{name} never reached {step}"
        time.sleep(0.05)


def _signal_worker_inside_install_roles(
    box: Sandbox, name: str, slow: Fault, signum: signal.Signals
) -> int:
    """Run a worker process, signal it while it is inside InstallRoles; its exit code."""
    process = _worker_process()
    try:
        _wait_for_step(box, name, "devtest", "InstallRoles")
        while slow.fired == 0:
            time.sleep(0.05)
        process.send_signal(signum)
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_worker_killed_mid_step_is_redone_without_duplicates(idle_sandbox: Sandbox) -> None:
    box = idle_sandbox
    assert box.session is not None
    vend(box, request("crash", environments=["devtest"]))
    with slowed(IAMBackend, "attach_role_policy", seconds=1.0) as slow:
        _signal_worker_inside_install_roles(box, "crash", slow, signal.SIGKILL)
        box.start_workers(1)
        record = wait_until(box, "crash")
    assert record["status"] == "SUCCEEDED", record
    account_id = record["accounts"]["devtest"]["account_id"]
    assert len(accounts_with_email(box, box.config.stream_email("crash", "devtest"))) == 1
    member = inside(box, account_id)
    ec2 = member.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:orgvend:network", "Values": ["crash-devtest"]}])
    assert len(vpcs["Vpcs"]) == 1
    peerings = [
        p
        for p in ec2.describe_vpc_peering_connections()["VpcPeeringConnections"]
        if p["Status"]["Code"] == "active"
    ]
    assert len(peerings) == 1
    roles = {r["RoleName"] for r in member.client("iam").list_roles()["Roles"]}
    assert {r.name for r in box.config.roles_for("devtest")} <= roles
    assert len(links_of(box, "crash")) == len(box.config.roles_for("devtest"))
    sfn = box.session.client("stepfunctions")
    events = sfn.get_execution_history(executionArn=record["execution_arn"])["events"]
    install = [
        e
        for e in events
        if e["type"] == "TaskStateEntered"
        and e["stateEnteredEventDetails"]["name"] == "InstallRoles"
    ]
    assert len(install) == 1, "the same task was redone from its redelivered message"


def test_worker_sigterm_finishes_the_step_in_hand_then_exits(idle_sandbox: Sandbox) -> None:
    box = idle_sandbox
    assert box.session is not None
    vend(box, request("sigterm", environments=["devtest"]))
    with slowed(IAMBackend, "attach_role_policy", seconds=0.5) as slow:
        exit_code = _signal_worker_inside_install_roles(box, "sigterm", slow, signal.SIGTERM)
    assert exit_code == 0
    streams = stream_store(box.session, box.settings)
    assert "InstallRoles" in streams.require("sigterm")["accounts"]["devtest"]["steps_done"]
    box.start_workers(1)
    assert wait_until(box, "sigterm")["status"] == "SUCCEEDED"


def test_worker_drops_a_message_whose_task_was_already_answered(
    idle_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = idle_sandbox
    assert box.session is not None and box.deployment is not None
    sqs = box.session.client("sqs")
    queue = sqs.create_queue(QueueName="stale-steps")["QueueUrl"]
    vend(box, request("stale", environments=["devtest"]))
    box.start_workers(1)
    record = wait_until(box, "stale")
    assert record["status"] == "SUCCEEDED"
    events = box.session.client("stepfunctions").get_execution_history(
        executionArn=record["execution_arn"]
    )["events"]
    body = next(
        e["taskScheduledEventDetails"]["parameters"]
        for e in events
        if e["type"] == "TaskScheduled"
        and '"EnsureAccount"' in e["taskScheduledEventDetails"]["parameters"]
    )
    message_body = json.loads(body)["MessageBody"]
    calls: list[str] = []
    monkeypatch.setitem(handlers.HANDLERS, "EnsureAccount", lambda *_: calls.append("x") or {})
    stale = worker.Worker(box.tools(), queue_url=queue)
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(message_body))
    first = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=5)["Messages"][0]
    sqs.change_message_visibility(
        QueueUrl=queue, ReceiptHandle=first["ReceiptHandle"], VisibilityTimeout=0
    )
    redelivered = stale._receive()
    assert redelivered[0]["Attributes"]["ApproximateReceiveCount"] == "2"
    stale.process(redelivered[0])
    assert calls == []
    left = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert left["ApproximateNumberOfMessages"] == "0"
    assert left["ApproximateNumberOfMessagesNotVisible"] == "0"
