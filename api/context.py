"""What every route needs: the org config, settings, role source, and AWS access per thread.

FastAPI runs plain ``def`` routes on a thread pool, and boto3 sessions and resources are not
thread-safe, so each worker thread gets its own twin of the management session (same
credentials source, same region) and its own table handles. Lists the pages show are read
through a short-lived shared snapshot, so a dashboard polled by many browsers scans the tables
at most once per ``snapshot_seconds`` (see :mod:`api.snapshots`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import boto3
from botocore.exceptions import ClientError

from api.auth import RoleSource
from api.readmodel import LinksView, StreamsView
from api.sessions import SessionCodec
from api.snapshots import Snapshot, Version
from bootstrap.aws import client, error_code
from bootstrap.catalogue import LinkCatalogue
from bootstrap.config import CORE_KINDS, OrgConfig
from bootstrap.errors import OrgvendError
from bootstrap.settings import Settings
from bootstrap.store import DynamoRecordTable
from bootstrap.streams import StreamStore

__all__ = ["AppContext", "Local", "ReusingSession", "twin_session"]

Record = dict[str, Any]


class ReusingSession(boto3.Session):  # type: ignore[misc]
    """A session that makes each client or resource once and hands the same one out again.

    Building a boto3 client costs tens of milliseconds, more than the calls a request makes;
    domain code asks its session for clients freely, so the API gives it one of these per
    thread (a resource must not be shared between threads; one thread's session is not).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._made: dict[tuple[Any, ...], Any] = {}

    def _reuse(self, kind: str, name: str, kwargs: dict[str, Any], make: Any) -> Any:
        key = (kind, name, tuple(sorted(kwargs.items())))
        if key not in self._made:
            self._made[key] = make(name, **kwargs)
        return self._made[key]

    def client(self, service_name: str, **kwargs: Any) -> Any:
        return self._reuse("client", service_name, kwargs, super().client)

    def resource(self, service_name: str, **kwargs: Any) -> Any:
        return self._reuse("resource", service_name, kwargs, super().resource)


def twin_session(session: boto3.Session) -> ReusingSession:
    """A new session that reaches the same identity as ``session``, for another thread."""
    credentials = session.get_credentials()
    if credentials is not None and credentials.method == "explicit":
        frozen = credentials.get_frozen_credentials()
        return ReusingSession(
            aws_access_key_id=frozen.access_key,
            aws_secret_access_key=frozen.secret_key,
            aws_session_token=frozen.token,
            region_name=session.region_name,
        )
    profile = session._session.get_config_variable("profile")
    return ReusingSession(profile_name=profile, region_name=session.region_name)


@dataclass
class Local:
    """One thread's AWS handles."""

    session: boto3.Session
    streams: StreamStore
    catalogue: LinkCatalogue
    sfn: Any


@dataclass
class AppContext:
    session: boto3.Session
    config: OrgConfig
    settings: Settings
    roles: RoleSource
    sessions: SessionCodec
    snapshot_seconds: float = 1.0
    _local: threading.local = field(default_factory=threading.local)
    _core: dict[str, str] = field(default_factory=dict)
    _loaders: dict[str, Local] = field(default_factory=dict)
    streams_view: Snapshot[StreamsView] = field(init=False)
    links_view: Snapshot[LinksView] = field(init=False)

    def __post_init__(self) -> None:
        self.streams_view = Snapshot(
            lambda: StreamsView.build(list(self._loader("streams").streams.all())),
            max_age=self.snapshot_seconds,
            name="streams",
        )
        self.links_view = Snapshot(
            lambda: LinksView.build(self._loader("links").catalogue.all()),
            max_age=self.snapshot_seconds,
            name="links",
        )

    def _handles(self) -> Local:
        session = twin_session(self.session)
        tables = self.settings.tables
        return Local(
            session=session,
            streams=StreamStore(DynamoRecordTable(session, tables.streams)),
            catalogue=LinkCatalogue(DynamoRecordTable(session, tables.links)),
            sfn=client(session, "stepfunctions"),
        )

    def local(self) -> Local:
        """This thread's handles, made on its first request."""
        handles: Local | None = getattr(self._local, "handles", None)
        if handles is None:
            handles = self._local.handles = self._handles()
        return handles

    def _loader(self, name: str) -> Local:
        """The handles of one snapshot's reader: one read at a time, on changing threads."""
        if name not in self._loaders:
            self._loaders[name] = self._handles()
        return self._loaders[name]

    def core_account_ids(self) -> dict[str, str]:
        """``{kind: id}`` of the core accounts that exist; ids never change once found."""
        if len(self._core) < len(CORE_KINDS):
            org = client(self.local().session, "organizations")
            by_email = {a.email.lower(): kind for kind, a in self.config.core_accounts.items()}
            try:
                for page in org.get_paginator("list_accounts").paginate():
                    for account in page["Accounts"]:
                        kind = by_email.get(str(account["Email"]).lower())
                        if kind and account["Status"] == "ACTIVE":
                            self._core[kind] = str(account["Id"])
            except ClientError as exc:
                if error_code(exc) != "AWSOrganizationsNotInUseException":
                    raise
        return {kind: self._core[kind] for kind in CORE_KINDS if kind in self._core}

    def users_account_id(self) -> str:
        found = self.core_account_ids().get("users")
        if found is None:
            raise OrgvendError(
                "The users account does not exist yet; run `orgvend bootstrap` first."
            )
        return found

    def streams(self, *, fresh: bool = False) -> Version[StreamsView]:
        return self.streams_view.get(fresh=fresh)

    def links(self, *, fresh: bool = False) -> Version[LinksView]:
        return self.links_view.get(fresh=fresh)

    def changed(self) -> None:
        """Mark the snapshots stale after a write, so the writer's next page shows it."""
        self.streams_view.forget()
        self.links_view.forget()
