"""AWS session helpers: one client configuration, and sessions inside member accounts.

Clients honour ``AWS_ENDPOINT_URL`` through botocore itself, so the same code talks to AWS or to
the sandbox. Throttling is retried by botocore's ``standard`` mode (exponential backoff with
jitter); what still fails after that surfaces as :class:`bootstrap.errors.Throttled`.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

__all__ = ["CLIENT_CONFIG", "assume_role", "client", "error_code", "member_session"]

CLIENT_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 8},
    connect_timeout=5,
    read_timeout=70,
)


def client(session: boto3.Session, service: str, *, region: str | None = None) -> Any:
    return session.client(service, config=CLIENT_CONFIG, region_name=region or session.region_name)


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


_LOADER_LOCK = threading.Lock()
_LOADER: list[botocore.loaders.Loader] = []


def _shared_loader() -> botocore.loaders.Loader:
    """One model loader for every assumed session: a fresh boto3 session would parse the
    service models (EC2's is megabytes of JSON) again for every step in every account."""
    with _LOADER_LOCK:
        if not _LOADER:
            _LOADER.append(botocore.loaders.create_loader())
        return _LOADER[0]


def assume_role(
    session: boto3.Session, role_arn: str, *, session_name: str = "orgvend", seconds: int = 900
) -> boto3.Session:
    """A session with the role's credentials, in the same region; no caching."""
    sts = client(session, "sts")
    creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=seconds)
    c = creds["Credentials"]
    core = botocore.session.Session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(
        aws_access_key_id=c["AccessKeyId"],
        aws_secret_access_key=c["SecretAccessKey"],
        aws_session_token=c["SessionToken"],
        region_name=session.region_name,
        botocore_session=core,
    )


def member_session(
    session: boto3.Session, account_id: str, *, role_name: str, session_name: str = "orgvend"
) -> boto3.Session:
    """A session inside member account ``account_id`` through ``role_name``.

    Not cached: a step assumes afresh, so credentials never outlive the step that uses them.
    """
    arn = f"arn:aws:iam::{account_id}:role/{role_name}"
    return assume_role(session, arn, session_name=session_name)
