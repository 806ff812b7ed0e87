"""Stream records and execution histories shaped for callers.

Everything a page or an API answer shows about a stream comes through here, so the token
whitelist in :mod:`api.models` is applied in one place.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from api.models import (
    AccountState,
    AccountStatus,
    Approval,
    Failure,
    LinkOut,
    StateStatus,
    StreamOut,
    StreamSummary,
    TimelineEntry,
    Workflow,
)
from bootstrap.catalogue import Link
from bootstrap.streams import STEPS
from workflows.definition import all_states

__all__ = [
    "age_text",
    "link_out",
    "state_statuses",
    "stream_out",
    "stream_summary",
]

Record = dict[str, Any]
_ENTERED = "StateEntered"
_EXITED = "StateExited"


def _account(environment: str, entry: Record) -> AccountState:
    status: AccountStatus = entry.get("status") or "REQUESTED"
    recorded = set(entry.get("steps_done") or [])
    # READY is declared only after every step, so it always shows as all steps done.
    done = [s for s in STEPS if s in recorded or status == "READY"]
    return AccountState(
        environment=environment,
        status=status,
        name=str(entry.get("name") or ""),
        email=str(entry.get("email") or ""),
        account_id=entry.get("account_id"),
        step=entry.get("step"),
        steps_done=done,
        steps_total=len(STEPS),
        timeline=[TimelineEntry(**_timeline(t)) for t in entry.get("timeline") or []],
        failure_code=entry.get("failure_code"),
        failure_message=entry.get("failure_message"),
        ou=entry.get("ou"),
        cidr=entry.get("cidr"),
        vpc_id=entry.get("vpc_id"),
        peering_id=entry.get("peering_id"),
    )


def _timeline(entry: Record) -> dict[str, Any]:
    return {"step": str(entry["step"]), "at": str(entry["at"]), "done_at": entry.get("done_at")}


def _order(environment: str) -> tuple[int, str]:
    known = ("live", "devtest")
    return (known.index(environment) if environment in known else len(known), environment)


def _approval(record: Record) -> Approval:
    stored = record.get("approval") or {}
    return Approval(
        required=bool(record.get("needs_approval")),
        decision=stored.get("decision"),
        decided_by=stored.get("decided_by"),
        decided_at=stored.get("decided_at"),
        reason=stored.get("reason"),
    )


def _failure(record: Record) -> Failure | None:
    code = record.get("failure_code")
    return Failure(code=code, message=record.get("failure_message") or "") if code else None


def _summary_fields(record: Record) -> dict[str, Any]:
    accounts = record.get("accounts") or {}
    return {
        "name": record["name"],
        "display_name": str((record.get("request") or {}).get("display_name") or record["name"]),
        "status": record["status"],
        "requested_by": str(record.get("requested_by") or ""),
        "via": str(record.get("via") or ""),
        "created_at": str(record.get("created_at") or ""),
        "updated_at": str(record.get("updated_at") or ""),
        "accounts": [_account(env, accounts[env]) for env in sorted(accounts, key=_order)],
        "approval": _approval(record),
        "failure": _failure(record),
    }


def stream_summary(record: Record) -> StreamSummary:
    return StreamSummary(**_summary_fields(record))


def link_out(link: Link) -> LinkOut:
    return LinkOut(
        stream=link.stream,
        environment=link.environment,
        account_id=link.account_id,
        account_name=link.account_name,
        role_name=link.role_name,
        display_name=link.display_name,
        colour=link.colour,
        url=link.url,
    )


def stream_out(
    record: Record, links: Iterable[Link], workflow: Workflow | None = None
) -> StreamOut:
    return StreamOut(
        **_summary_fields(record),
        request=dict(record.get("request") or {}),
        attempt=int(record.get("attempt") or 1),
        execution_arn=record.get("execution_arn"),
        links=[link_out(link) for link in links],
        workflow=workflow,
    )


def _state_of(event: Record, owners: dict[int, str]) -> str | None:
    for key in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        details = event.get(key)
        if details:
            return str(details["name"])
    return owners.get(int(event.get("previousEventId") or 0))


def state_statuses(events: list[Record], execution_status: str | None) -> dict[str, StateStatus]:
    """How far an execution got with each state, from its history (oldest event first).

    A state is ``running`` while an entry is not matched by an exit, ``failed`` when its last
    task attempt failed (or an entry was still open when the execution ended), and
    ``succeeded`` once exited; a Map's inner states count every iteration.
    """
    owners: dict[int, str] = {}
    open_entries: dict[str, int] = {}
    seen: dict[str, StateStatus] = {}
    for event in events:
        kind = str(event.get("type", ""))
        state = _state_of(event, owners)
        if state is None:
            continue
        owners[int(event["id"])] = state
        if kind.endswith(_ENTERED):
            open_entries[state] = open_entries.get(state, 0) + 1
            seen.setdefault(state, "running")
        elif kind.endswith(_EXITED):
            open_entries[state] = max(0, open_entries.get(state, 0) - 1)
            if seen.get(state) != "failed":
                seen[state] = "succeeded"
        elif kind.endswith(("Failed", "TimedOut", "Aborted")):
            seen[state] = "failed"
        elif kind == "TaskSucceeded" and seen.get(state) == "failed":
            seen[state] = "running"
    finished = execution_status not in (None, "RUNNING")
    for state, count in open_entries.items():
        if count and finished:
            seen[state] = "failed"
        elif count and seen[state] != "failed":
            seen[state] = "running"
    for state, definition in all_states():
        if definition.get("Type") == "Fail" and state in seen:
            seen[state] = "failed"
    return {name: seen.get(name, "not_started") for name, _ in all_states()}


def age_text(stamp: str, *, now: datetime | None = None) -> str:
    """``3 min``, ``2 h``, ``5 d``: how long ago ``stamp`` (ISO 8601) was."""
    try:
        then = datetime.fromisoformat(stamp)
    except ValueError:
        return ""
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"
