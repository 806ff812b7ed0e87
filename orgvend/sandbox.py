"""The sandbox: emulated AWS on loopback with the landing zone, workflow, workers and API.

This module composes the packages (it is the only place that starts all of them together);
product code in ``bootstrap/``, ``workflows/`` and ``api/`` never knows it runs emulated.
"""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from bootstrap.changes import Change, Plan
from bootstrap.config import OrgConfig
from bootstrap.emulator import Emulator
from bootstrap.landing_zone import LandingZone, bootstrap_landing_zone
from bootstrap.provisioning import StepTools
from bootstrap.settings import Settings
from workflows.resources import Deployment, ensure_workflow_resources
from workflows.worker import Worker

__all__ = ["DEMO_USERS", "Sandbox", "replay_state"]

DEMO_USERS = ("alice", "bob", "alice-admin")
_SKIPPED_TARGETS = ("AWSStepFunctions.", "AmazonSQS.")
_READ_PREFIXES = ("Describe", "List", "Get", "Receive", "ChangeMessageVisibility", "Scan", "Query")


@dataclass
class Sandbox:
    config: OrgConfig
    settings: Settings
    aws_port: int = 4566
    create_seconds: float = 1.0
    workers: int = 4
    visibility_seconds: int = 30
    state_dir: Path | None = None
    progress: Callable[[Change], None] | None = None
    emulator: Emulator | None = None
    session: boto3.Session | None = None
    zone: LandingZone | None = None
    deployment: Deployment | None = None
    _owns_emulator: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        policies = tuple(
            sorted({p for r in self.config.standard_roles for p in r.managed_policies})
        )
        if self.state_dir is not None:
            self.state_dir.mkdir(parents=True, exist_ok=True)
            os.environ["MOTO_RECORDER_FILEPATH"] = str(self.state_dir / "recording.jsonl")
        if self.emulator is None:
            self.emulator = Emulator(
                port=self.aws_port, create_seconds=self.create_seconds, managed_policies=policies
            )
            self.emulator.start()
            self._owns_emulator = True
        os.environ["AWS_ENDPOINT_URL"] = self.emulator.endpoint
        os.environ.setdefault("AWS_ACCESS_KEY_ID", "sandbox")
        os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "sandbox")
        os.environ["AWS_REGION"] = self.config.home_region
        if self.state_dir is not None:
            replay_state(self.emulator, self.state_dir / "recording.jsonl")
        self.session = boto3.Session(region_name=self.config.home_region)
        self.zone = bootstrap_landing_zone(
            self.session,
            self.config,
            tables=self.settings.tables,
            plan=Plan(progress=self.progress),
            demo_users=DEMO_USERS,
            poll_seconds=0.2,
        )
        self.deployment = ensure_workflow_resources(
            self.session, visibility_seconds=self.visibility_seconds
        )
        self.settings = self.settings.with_(
            step_queue_url=self.deployment.step_queue_url,
            state_machine_arn=self.deployment.state_machine_arn,
            event_bus_name=self.deployment.event_bus_name,
            region=self.config.home_region,
        )
        os.environ.update(self.settings.to_env())
        self.start_workers(self.workers)

    def tools(self) -> StepTools:
        assert self.session is not None
        tables = self.settings.tables
        return StepTools.from_tables(
            self.session,
            self.config,
            streams=tables.streams,
            links=tables.links,
            cidrs=tables.cidrs,
        )

    def start_workers(self, count: int) -> None:
        assert self.deployment is not None
        for index in range(count):
            worker = Worker(self.tools(), queue_url=self.deployment.step_queue_url, wait_seconds=2)
            thread = threading.Thread(
                target=worker.run, args=(self._stop,), name=f"orgvend-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.emulator is not None and self._owns_emulator:
            self.emulator.stop()


def _operation(entry: dict[str, Any]) -> str:
    headers = entry.get("headers", {})
    target = str(headers.get("X-Amz-Target", ""))
    if target:
        return target
    body = entry.get("body") or ""
    for part in str(body).split("&"):
        if part.startswith("Action="):
            return part[len("Action=") :]
    return ""


def _keep(entry: dict[str, Any]) -> bool:
    """Replay what changed state; drop reads, workflow traffic and the interpreter's own calls."""
    if "Credential=ak/" in str(entry.get("headers", {}).get("Authorization", "")):
        return False
    if entry.get("url", "").rstrip("/").endswith(("/moto-api/config", "/moto-api/reset")):
        return False
    operation = _operation(entry)
    if operation.startswith(_SKIPPED_TARGETS):
        return False
    name = operation.rsplit(".", 1)[-1]
    return not name.startswith(_READ_PREFIXES)


def replay_state(emulator: Emulator, recording: Path) -> None:
    """Rebuild the emulated organisation from ``recording``, then keep recording into it."""
    post = _poster(emulator.endpoint)
    if recording.exists() and recording.stat().st_size:
        entries = [json.loads(line) for line in recording.read_text().splitlines() if line]
        kept = [e for e in entries if _keep(e)]
        recording.write_text("".join(json.dumps(e) + "\n" for e in kept))
        saved = emulator.create_seconds
        emulator.create_seconds = 0.0
        post("/moto-api/recorder/replay-recording", b"")
        emulator.create_seconds = saved
    else:
        recording.write_text("")
        post("/moto-api/recorder/start-recording", b"")
        post("/moto-api/seed?a=42", b"")
        return
    post("/moto-api/recorder/start-recording", b"")


def _poster(endpoint: str) -> Callable[[str, bytes], None]:
    def post(path: str, data: bytes) -> None:
        request = urllib.request.Request(endpoint + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310 - loopback only
            reply.read()

    return post
