"""Stream-level status changes: approval, running, success, failure, rejection.

The worker's failure path writes the code and message it knows into the record; these
functions settle the stream's status from it, so the record is the single place a person
reads why a stream failed (the emulator drops ``SendTaskFailure``'s cause).
"""

from __future__ import annotations

from typing import Any

from bootstrap.config import OrgConfig
from bootstrap.errors import ACCOUNT_FAILURE_ADVICE
from bootstrap.provisioning import StepTools, stream_links
from bootstrap.streams import StreamStore, now_iso

__all__ = [
    "account_failed",
    "await_approval",
    "describe_error",
    "mark_failed",
    "mark_rejected",
    "mark_running",
    "mark_succeeded",
]

Record = dict[str, Any]

_TIMEOUT_MESSAGE = (
    "A step did not answer within its timeout. Check that workers are running "
    "(`orgvend worker`), then re-run the stream; finished steps are not repeated."
)


def describe_error(error: dict[str, Any] | None) -> tuple[str, str]:
    """Code and sentence for a Step Functions error object ``{"Error", "Cause"}``."""
    error = error or {}
    code = str(error.get("Error") or "Orgvend.Unknown")
    cause = str(error.get("Cause") or "")
    if code == "States.Timeout":
        return code, _TIMEOUT_MESSAGE
    if code.startswith("AccountCreationFailed."):
        reason = code.split(".", 1)[1]
        return code, cause or ACCOUNT_FAILURE_ADVICE.get(reason, "")
    return code, cause or "The step failed; see the workflow history for details."


def await_approval(streams: StreamStore, stream: str, token: str) -> None:
    """Park the task token on the record; the API resolves it on approve or reject."""

    def change(record: Record) -> None:
        record["status"] = "PENDING_APPROVAL"
        record.setdefault("approval", {})["token"] = token

    streams.update(stream, change)


def mark_running(streams: StreamStore, stream: str) -> None:
    def change(record: Record) -> None:
        record["status"] = "RUNNING"
        record.setdefault("approval", {}).pop("token", None)

    streams.update(stream, change)


def account_failed(streams: StreamStore, stream: str, environment: str, error: Any) -> None:
    code, message = describe_error(error)

    def change(record: Record) -> None:
        entry = record["accounts"][environment]
        entry["status"] = "FAILED"
        if not entry.get("failure_code"):
            entry["failure_code"] = code
            entry["failure_message"] = message
        entry["updated_at"] = now_iso()

    streams.update(stream, change)


def _summary(record: Record) -> list[dict[str, Any]]:
    return [
        {
            "environment": env,
            "account_id": entry.get("account_id"),
            "account_name": entry.get("name"),
            "status": entry.get("status"),
        }
        for env, entry in sorted(record.get("accounts", {}).items())
    ]


def mark_succeeded(tools: StepTools, stream: str) -> dict[str, Any]:
    """READY only now: roles, peering and catalogue registration are all done."""

    def change(record: Record) -> None:
        for entry in record["accounts"].values():
            entry["status"] = "READY"
            entry["step"] = None
        record["status"] = "SUCCEEDED"
        record["failure_code"] = None
        record["failure_message"] = None
        record["finished_at"] = now_iso()

    record = tools.streams.update(stream, change)
    return {
        "stream": stream,
        "accounts": _summary(record),
        "links": [link.url for link in stream_links(tools.config, record)],
    }


def mark_failed(streams: StreamStore, stream: str, error: Any) -> dict[str, Any]:
    """FAILED with the first failed account's code, or the workflow's own error."""
    fallback = describe_error(error)

    def change(record: Record) -> None:
        failed = [e for _, e in sorted(record["accounts"].items()) if e.get("failure_code")]
        code, message = (
            (failed[0]["failure_code"], failed[0].get("failure_message", ""))
            if failed
            else (
                record.get("step_failure_code") or fallback[0],
                record.get("step_failure_message") or fallback[1],
            )
        )
        record["status"] = "FAILED"
        record["failure_code"] = code
        record["failure_message"] = message
        record["finished_at"] = now_iso()

    record = streams.update(stream, change)
    return {
        "stream": stream,
        "code": record["failure_code"],
        "message": record["failure_message"],
        "accounts": _summary(record),
    }


def mark_rejected(streams: StreamStore, config: OrgConfig, stream: str, error: Any) -> None:
    code = str((error or {}).get("Error", ""))

    def change(record: Record) -> None:
        approval = record.setdefault("approval", {})
        approval.pop("token", None)
        if code == "States.Timeout":
            approval.update(
                decision="rejected",
                decided_by="orgvend (timeout)",
                decided_at=now_iso(),
                reason=f"Not approved within {config.approval_timeout_seconds} s.",
            )
        record["status"] = "REJECTED"
        record["finished_at"] = now_iso()

    streams.update(stream, change)
