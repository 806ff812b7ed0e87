"""Shared fixtures: one emulated AWS (moto's server on 127.0.0.1) per test process.

Every test gets a freshly reset emulator, so tests never see each other's accounts. Nothing
here can reach real AWS: the endpoint, credentials and region are forced before any client.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from sandboxes import running_sandbox

from bootstrap.config import OrgConfig, load_config
from bootstrap.emulator import Emulator
from orgvend.sandbox import Sandbox

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = ROOT / "examples" / "org.yaml"

for _name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "eu-west-2"
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


@pytest.fixture(scope="session")
def org_config() -> OrgConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(scope="session")
def emulator(org_config: OrgConfig) -> Iterator[Emulator]:
    policies = tuple(sorted({p for r in org_config.standard_roles for p in r.managed_policies}))
    emu = Emulator(port=0, create_seconds=0.2, managed_policies=policies)
    emu.start()
    os.environ["AWS_ENDPOINT_URL"] = emu.endpoint
    yield emu
    emu.stop()


@pytest.fixture
def aws(emulator: Emulator) -> Iterator[boto3.Session]:
    """A management-account session against a freshly reset emulator."""
    emulator.reset()
    emulator.create_seconds = 0.2
    yield boto3.Session(region_name="eu-west-2")


@pytest.fixture(scope="module")
def sandbox(emulator: Emulator, org_config: OrgConfig) -> Iterator[Sandbox]:
    """A landing zone with the workflow and two worker threads, shared by one test module.

    Tests in a module that uses it pick distinct stream names; they must not use ``aws``,
    which resets the emulator.
    """
    with running_sandbox(emulator, org_config, workers=2, visibility_seconds=5) as box:
        yield box


@pytest.fixture
def restore_environ() -> Iterator[None]:
    """Put the environment back after a test that starts a sandbox of its own."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)
