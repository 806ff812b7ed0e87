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
from bootstrap.provisioning import StepTools, reconcile_account
from bootstrap.settings import Settings
from workflows.resources import Deployment, ensure_workflow_resources
from workflows.worker import Worker

__all__ = ["DEMO_USERS", "Sandbox", "reconcile_streams", "replay_state"]

DEMO_USERS = ("alice", "bob", "alice-admin")


@dataclass
class Sandbox:
    config: OrgConfig
    settings: Settings
    aws_port: int = 4566
    create_seconds: float = 1.0
    workers: int = 4
    visibility_seconds: int = 30
    state_dir: Path | None = None
    api_port: int | None = None
    """Serve the API and pages on 127.0.0.1 at this port (0: any free one); None: no API."""
    tokens: dict[str, str] = field(default_factory=dict)
    api_url: str = ""
    _api: Any = None
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
        restored = False
        if self.state_dir is not None:
            recording = self.state_dir / "recording.jsonl"
            restored = recording.exists() and recording.stat().st_size > 0
            replay_state(self.emulator, recording, access_key=os.environ["AWS_ACCESS_KEY_ID"])
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
        if restored:
            reconcile_streams(self.tools())
        self.start_workers(self.workers)
        if self.api_port is not None:
            self._serve_api(self.api_port)

    def _serve_api(self, port: int) -> None:
        """The API next to the emulator; one fresh token per role unless a tokens file is set."""
        from api.app import create_app
        from api.auth import TokenFile, make_sandbox_tokens
        from api.serve import BackgroundServer

        assert self.session is not None
        path = self.settings.tokens_file
        if not path:
            path = str(Path(".orgvend") / "sandbox-tokens.json")
            self.tokens = make_sandbox_tokens(path)
            self.settings = self.settings.with_(tokens_file=path)
            os.environ["ORGVEND_TOKENS_FILE"] = path
        app = create_app(
            session=self.session, config=self.config, settings=self.settings, roles=TokenFile(path)
        )
        self._api = BackgroundServer(app, port=port)
        self.api_url = self._api.start()

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
            worker = Worker(
                self.tools(),
                queue_url=self.deployment.step_queue_url,
                wait_seconds=2,
                visibility_seconds=self.visibility_seconds,
            )
            thread = threading.Thread(
                target=worker.run, args=(self._stop,), name=f"orgvend-worker-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._api is not None:
            self._api.stop()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        if self.emulator is not None and self._owns_emulator:
            self.emulator.stop()


_REPLAYED = {
    "AWSOrganizationsV20161128.CreateOrganization",
    "AWSOrganizationsV20161128.CreateAccount",
    "DynamoDB_20120810.CreateTable",
    "DynamoDB_20120810.PutItem",
    "DynamoDB_20120810.UpdateItem",
    "DynamoDB_20120810.DeleteItem",
    "DynamoDB_20120810.BatchWriteItem",
}
"""What a restart replays: the organisation's accounts and the tables' contents.

Everything else (OUs, SCPs, roles, VPCs, the workflow) is ensured again by the bootstrap and
by reconciling each READY stream account; replaying those calls would not work, because
calls made with assumed-role credentials name keys that a replay does not issue again.
"""


def _keep(entry: dict[str, Any], access_key: str) -> bool:
    headers = entry.get("headers", {})
    signed_by = f"Credential={access_key}/" in str(headers.get("Authorization", ""))
    return signed_by and str(headers.get("X-Amz-Target", "")) in _REPLAYED


def replay_state(emulator: Emulator, recording: Path, *, access_key: str) -> None:
    """Rebuild the organisation and tables from ``recording``, then keep recording into it."""
    from moto.moto_api import recorder

    recorder._location = str(recording)
    post = _poster(emulator.endpoint)
    if recording.exists() and recording.stat().st_size:
        entries = [json.loads(line) for line in recording.read_text().splitlines() if line]
        kept = [e for e in entries if _keep(e, access_key)]
        recording.write_text("".join(json.dumps(e) + "\n" for e in kept))
        saved = emulator.create_seconds
        emulator.create_seconds = 0.0
        post("/moto-api/recorder/replay-recording", b"")
        emulator.create_seconds = saved
    else:
        recording.write_text("")
    post("/moto-api/recorder/start-recording", b"")


def reconcile_streams(tools: StepTools) -> int:
    """Rebuild OU placement, roles and network of every READY stream account; how many."""
    count = 0
    for record in tools.streams.all():
        for environment, entry in sorted(record.get("accounts", {}).items()):
            if entry.get("status") == "READY" and entry.get("account_id"):
                reconcile_account(tools, record["name"], environment)
                count += 1
    return count


def _poster(endpoint: str) -> Callable[[str, bytes], None]:
    def post(path: str, data: bytes) -> None:
        request = urllib.request.Request(endpoint + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=120) as reply:  # noqa: S310 - loopback only
            reply.read()

    return post
