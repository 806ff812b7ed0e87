"""Helpers for the API tests: the served app, polling, requests (fixtures in conftest.py)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from api.app import create_app
from api.auth import TokenFile, make_sandbox_tokens
from api.serve import BackgroundServer
from bootstrap.store import DynamoRecordTable
from bootstrap.streams import StreamStore
from orgvend.sandbox import Sandbox

ROLES = ("viewer", "requester", "ops")
TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")


@dataclass
class Api:
    url: str
    app: FastAPI
    tokens: dict[str, str]
    tokens_file: Path
    sandbox: Sandbox

    def client(self, role: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    @property
    def streams(self) -> StreamStore:
        assert self.sandbox.session is not None
        table = DynamoRecordTable(self.sandbox.session, self.sandbox.settings.tables.streams)
        return StreamStore(table)

    def record(self, name: str) -> dict[str, Any]:
        return self.streams.require(name)

    def wait_for_status(self, name: str, wanted: tuple[str, ...], *, timeout: float = 90) -> str:
        return wait_until(
            lambda: self.record(name)["status"] in wanted and self.record(name)["status"],
            timeout=timeout,
            what=f"{name} to reach {wanted}",
        )


def wait_until(check: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


def stream_request(name: str, **changes: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "name": name,
        "display_name": f"Stream {name}",
        "owner": {"email": f"{name}@example.com", "team": "Team " + name},
        "cost_centre": "CC-1",
    }
    request.update(changes)
    return request


def serve_api(sandbox: Sandbox, folder: Path) -> Iterator[Api]:
    assert sandbox.session is not None
    path = folder / "tokens.json"
    tokens = make_sandbox_tokens(path)
    app = create_app(
        session=sandbox.session,
        config=sandbox.config,
        settings=sandbox.settings,
        roles=TokenFile(path),
    )
    with BackgroundServer(app) as url:
        yield Api(url=url, app=app, tokens=tokens, tokens_file=path, sandbox=sandbox)
