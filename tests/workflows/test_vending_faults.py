"""Faults injected into the emulator while real executions run: the workflow recovers or
fails with the named reason, and leaves nothing half-registered."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import pytest
from faults import throttled
from moto.iam.models import IAMBackend
from moto.organizations.models import OrganizationsBackend
from vend_helpers import accounts_with_email, links_of, request, vend, wait_until

from bootstrap.errors import RequestInvalid
from orgvend import cli
from orgvend.sandbox import Sandbox
from workflows.vending import stream_store, submit

REASONS = (
    "EMAIL_ALREADY_EXISTS",
    "ACCOUNT_LIMIT_EXCEEDED",
    "CONCURRENT_ACCOUNT_MODIFICATION",
    "INVALID_EMAIL",
    "INTERNAL_FAILURE",
)


def test_vend_recovers_from_throttled_organizations_and_iam_calls(sandbox: Sandbox) -> None:
    with (
        throttled(OrganizationsBackend, "create_account", times=2) as create,
        throttled(OrganizationsBackend, "move_account", times=2) as move,
        throttled(IAMBackend, "attach_role_policy", times=2, query=True) as role,
    ):
        vend(sandbox, request("throttled", environments=["devtest"]))
        record = wait_until(sandbox, "throttled")
    assert record["status"] == "SUCCEEDED", record
    assert (create.fired, move.fired, role.fired) == (2, 2, 2)
    email = sandbox.config.stream_email("throttled", "devtest")
    assert len(accounts_with_email(sandbox, email)) == 1


def test_vend_fails_with_the_named_reason_for_each_create_account_failure(
    sandbox: Sandbox,
) -> None:
    assert sandbox.emulator is not None
    names = {reason: f"fail-{i}" for i, reason in enumerate(REASONS)}
    for reason, name in names.items():
        sandbox.emulator.fail_next_create(sandbox.config.stream_email(name, "devtest"), reason)
        vend(sandbox, request(name, environments=["devtest"]))
    for reason, name in names.items():
        record = wait_until(sandbox, name)
        assert record["status"] == "FAILED"
        assert record["failure_code"] == f"AccountCreationFailed.{reason}"
        account = record["accounts"]["devtest"]
        assert account["status"] == "FAILED"
        assert account["failure_code"] == f"AccountCreationFailed.{reason}"
        assert reason in record["failure_message"]
        assert links_of(sandbox, name) == []
        email = sandbox.config.stream_email(name, "devtest")
        assert accounts_with_email(sandbox, email) == []


def test_rerun_failed_stream_creates_the_account_once(sandbox: Sandbox) -> None:
    assert sandbox.emulator is not None
    email = sandbox.config.stream_email("second-go", "devtest")
    sandbox.emulator.fail_next_create(email, "INTERNAL_FAILURE")
    vend(sandbox, request("second-go", environments=["devtest"]))
    assert wait_until(sandbox, "second-go")["status"] == "FAILED"
    vend(sandbox, request("second-go", environments=["devtest"]))
    record = wait_until(sandbox, "second-go")
    assert record["status"] == "SUCCEEDED"
    assert record["attempt"] == 2
    assert len(accounts_with_email(sandbox, email)) == 1


def _parked_token(sandbox: Sandbox, name: str) -> str:
    assert sandbox.session is not None
    streams = stream_store(sandbox.session, sandbox.settings)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        token = streams.require(name).get("approval", {}).get("token")
        if token:
            return str(token)
        time.sleep(0.1)
    raise AssertionError(f"{name}: no task token parked")


def _requested(sandbox: Sandbox, name: str, **extra: object) -> dict[str, object]:
    assert sandbox.session is not None
    config = dataclasses.replace(sandbox.config, approval_required=True)
    return submit(
        sandbox.session,
        config,
        sandbox.settings,
        request(name, **extra),
        requested_by="requester",
        ops=False,
    ).record


def test_requested_stream_waits_for_approval_then_succeeds(sandbox: Sandbox) -> None:
    assert sandbox.session is not None
    record = _requested(sandbox, "approved", environments=["devtest"])
    assert record["status"] == "PENDING_APPROVAL"
    token = _parked_token(sandbox, "approved")
    assert (
        stream_store(sandbox.session, sandbox.settings).require("approved")["accounts"]["devtest"][
            "status"
        ]
        == "REQUESTED"
    )
    sandbox.session.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    assert wait_until(sandbox, "approved")["status"] == "SUCCEEDED"


def test_rejected_stream_ends_rejected_without_accounts(sandbox: Sandbox) -> None:
    assert sandbox.session is not None
    _requested(sandbox, "rejected", environments=["devtest"])
    token = _parked_token(sandbox, "rejected")
    sandbox.session.client("stepfunctions").send_task_failure(
        taskToken=token, error="StreamRejected", cause="not this quarter"
    )
    assert wait_until(sandbox, "rejected")["status"] == "REJECTED"
    assert accounts_with_email(sandbox, sandbox.config.stream_email("rejected", "devtest")) == []


def test_unapproved_stream_is_rejected_when_the_approval_times_out(sandbox: Sandbox) -> None:
    assert sandbox.session is not None
    config = dataclasses.replace(sandbox.config, approval_required=True, approval_timeout_seconds=2)
    submit(
        sandbox.session,
        config,
        sandbox.settings,
        request("too-late", environments=["devtest"]),
        requested_by="requester",
        ops=False,
    )
    record = wait_until(sandbox, "too-late")
    assert record["status"] == "REJECTED"
    assert record["approval"]["decided_by"] == "orgvend (timeout)"


def test_stream_whose_root_email_was_taken_meanwhile_fails_with_email_already_exists(
    sandbox: Sandbox,
) -> None:
    assert sandbox.session is not None
    _requested(sandbox, "collide", environments=["devtest"])
    token = _parked_token(sandbox, "collide")
    email = sandbox.config.stream_email("collide", "devtest")
    sandbox.session.client("organizations").create_account(Email=email, AccountName="squatter")
    sandbox.session.client("stepfunctions").send_task_success(taskToken=token, output="{}")
    record = wait_until(sandbox, "collide")
    assert record["status"] == "FAILED"
    assert record["failure_code"] == "AccountCreationFailed.EMAIL_ALREADY_EXISTS"
    assert [a["Name"] for a in accounts_with_email(sandbox, email)] == ["squatter"]


def test_submit_stream_whose_root_email_is_taken_is_refused_before_anything_starts(
    sandbox: Sandbox,
) -> None:
    assert sandbox.session is not None
    email = sandbox.config.stream_email("taken", "live")
    sandbox.session.client("organizations").create_account(Email=email, AccountName="other")
    wait_for = time.monotonic() + 10
    while not accounts_with_email(sandbox, email):
        assert time.monotonic() < wait_for
        time.sleep(0.1)
    with pytest.raises(RequestInvalid) as caught:
        vend(sandbox, request("taken"))
    assert caught.value.errors[0]["path"] == "/name"
    assert stream_store(sandbox.session, sandbox.settings).get("taken") is None


def test_vend_cli_refuses_an_invalid_request_file_before_anything_starts(
    sandbox: Sandbox, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert sandbox.session is not None
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**request("Bad_Name"), "environments": ["prod"], "colour": 1}))
    assert cli.main(["vend", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "/name" in err and "/environments/0" in err and "colour" in err
    assert stream_store(sandbox.session, sandbox.settings).get("Bad_Name") is None
    executions = sandbox.session.client("stepfunctions").list_executions(
        stateMachineArn=sandbox.settings.state_machine_arn
    )["executions"]
    assert not any(e["name"].startswith("Bad_Name") for e in executions)
