"""Stream records: the request, who asked, where the workflow is, and why it failed.

One record per stream name. Map iterations update different accounts of the same record at
once, so every change is a read-modify-write guarded by the record's ``version``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

from bootstrap.errors import OrgvendError, StreamNotFound
from bootstrap.store import ConditionFailed, RecordTable

__all__ = [
    "ACCOUNT_STATUSES",
    "STEPS",
    "STREAM_STATUSES",
    "StreamStore",
    "now_iso",
]

STREAM_STATUSES = ("PENDING_APPROVAL", "REJECTED", "RUNNING", "SUCCEEDED", "FAILED")
ACCOUNT_STATUSES = ("REQUESTED", "CREATING", "READY", "FAILED")
STEPS = (
    "EnsureAccount",
    "PlaceInOu",
    "WaitUntilUsable",
    "InstallRoles",
    "ConnectNetwork",
    "RegisterLinks",
)
"""The per-account steps, in order: the dashboard shows progress as steps done of these."""

Record = dict[str, Any]


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class StreamStore:
    def __init__(self, table: RecordTable) -> None:
        self._table = table

    def get(self, name: str) -> Record | None:
        return self._table.get({"name": name})

    def require(self, name: str) -> Record:
        record = self.get(name)
        if record is None:
            raise StreamNotFound(f"No stream named {name!r}.")
        return record

    def create(self, record: Record) -> Record | None:
        """Store a new record and return it as stored; None when the name is taken already."""
        stamp = now_iso()
        item = {**record, "version": 1, "created_at": stamp, "updated_at": stamp}
        try:
            self._table.put(item, expected_version=0)
        except ConditionFailed:
            return None
        return item

    def update(self, name: str, change: Callable[[Record], None]) -> Record:
        """Apply ``change`` to the latest record and store it; retried when another writer won."""
        for attempt in range(60):
            record = self.require(name)
            version = int(record["version"])
            change(record)
            record["version"] = version + 1
            record["updated_at"] = now_iso()
            try:
                self._table.put(record, expected_version=version)
            except ConditionFailed:
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # noqa: S311 - jitter only
                continue
            return record
        raise OrgvendError(f"Stream record {name!r} stayed contended; retry the step.")

    def all(self) -> Iterator[Record]:
        return self._table.scan()

    def update_account(self, name: str, environment: str, **fields: Any) -> Record:
        """Set fields of one account's entry; a ``step`` is also appended to its timeline."""

        def change(record: Record) -> None:
            account = record.setdefault("accounts", {}).setdefault(environment, {})
            step = fields.get("step")
            if step and step != account.get("step"):
                account.setdefault("timeline", []).append({"step": step, "at": now_iso()})
            account.update(fields)
            account["updated_at"] = now_iso()

        return self.update(name, change)

    def finish_step(self, name: str, environment: str, step: str, **fields: Any) -> Record:
        """Mark ``step`` done for the account (idempotent: a repeated step counts once)."""

        def change(record: Record) -> None:
            account = record.setdefault("accounts", {}).setdefault(environment, {})
            done = account.setdefault("steps_done", [])
            if step not in done:
                done.append(step)
                for entry in reversed(account.get("timeline", [])):
                    if entry["step"] == step and "done_at" not in entry:
                        entry["done_at"] = now_iso()
                        break
            account.update(fields)
            account["updated_at"] = now_iso()

        return self.update(name, change)
