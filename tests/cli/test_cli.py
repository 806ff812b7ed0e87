"""The command line against the emulator: bootstrap, links, and the sandbox itself."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import boto3
import pytest

from orgvend import cli

ROOT = Path(__file__).resolve().parents[2]
CONFIG = str(ROOT / "examples" / "org.yaml")


def test_bootstrap_cli_twice_second_run_changes_nothing(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bootstrap", "--config", CONFIG]) == 0
    first = capsys.readouterr().out
    assert "applied" in first
    assert cli.main(["bootstrap", "--config", CONFIG]) == 0
    second = capsys.readouterr().out
    assert "0 change(s) planned." in second
    assert "applied" not in second
    names = {a["Name"] for a in aws.client("organizations").list_accounts()["Accounts"]}
    assert names == {"master", "users", "operations", "vault", "rnd"}


def test_bootstrap_cli_dry_run_prints_the_plan_and_creates_nothing(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bootstrap", "--config", CONFIG, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "create" in out and "account users" in out
    with pytest.raises(aws.client("organizations").exceptions.AWSOrganizationsNotInUseException):
        aws.client("organizations").describe_organization()


def test_links_cli_exports_the_core_accounts_roles(
    aws: boto3.Session, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["bootstrap", "--config", CONFIG]) == 0
    capsys.readouterr()
    assert cli.main(["links", "--config", CONFIG, "--format", "aws-config", "--user", "alice"]) == 0
    out = capsys.readouterr().out
    assert "role_arn = arn:aws:iam::" in out and ":role/useraccount-fulladmin" in out
    assert ":mfa/alice" in out
    assert ":role/useraccount-audit" in out


def test_cli_without_endpoint_says_what_to_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    assert cli.main(["status", "--config", CONFIG]) == 2
    assert "Is the sandbox running" in capsys.readouterr().err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sandbox_command_starts_prints_the_endpoint_and_stops_on_ctrl_c() -> None:
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "ORGVEND_"))}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orgvend",
            "sandbox",
            "--aws-port",
            str(port),
            "--port",
            "0",
            "--workers",
            "1",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        deadline = time.monotonic() + 60
        while not any("Ctrl-C" in line for line in lines):
            assert time.monotonic() < deadline, lines
            line = process.stdout.readline()
            assert line, lines
            lines.append(line)
        text = "".join(lines)
        assert f"AWS_ENDPOINT_URL=http://127.0.0.1:{port}" in text
        dashboard = next(line.split()[-1] for line in lines if "dashboard" in line)
        with urllib.request.urlopen(dashboard + "healthz", timeout=10) as reply:  # noqa: S310
            assert json.loads(reply.read()) == {"status": "ok"}
        assert any(line.strip().startswith("ops") and "token  ov_" in line for line in lines)
        session = boto3.Session(
            aws_access_key_id="sandbox", aws_secret_access_key="sandbox", region_name="eu-west-2"
        )
        org = session.client("organizations", endpoint_url=f"http://127.0.0.1:{port}")
        names = {a["Name"] for a in org.list_accounts()["Accounts"]}
        assert names == {"master", "users", "operations", "vault", "rnd"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
