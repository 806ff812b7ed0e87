"""The emulated AWS on loopback: moto's server, made to behave like AWS where orgvend relies on it.

moto creates every account at once and accepts duplicate root emails. Real Organizations
answers CreateAccount with an IN_PROGRESS request that completes later, hides the account
until then, and fails the request with ``EMAIL_ALREADY_EXISTS`` when the email is taken.
:class:`Emulator` patches moto's Organizations backend to do the same, and lets tests make the
next request for an email fail with any ``FailureReason``. It also makes DynamoDB's
conditional writes atomic, as on AWS: the CIDR allocator and the stream records rely on them.

Only the sandbox and the tests import this module; product code only ever sees an endpoint.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import socket
import threading
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bootstrap.errors import OrgvendError

__all__ = ["Emulator"]

_PATCH_LOCK = threading.Lock()
_ACTIVE: list[Emulator] = []


@dataclass
class _FailedRequest:
    id: str
    name: str
    reason: str
    requested: datetime


@dataclass
class Emulator:
    """A moto server on ``host:port`` with AWS-like account creation.

    ``create_seconds`` is how long CreateAccount stays IN_PROGRESS. ``managed_policies`` are
    the AWS managed policy ARNs every emulated account carries: moto would otherwise build all
    ~1,300 of them for each new account, about a second per CreateAccount.
    """

    host: str = "127.0.0.1"
    port: int = 4566
    create_seconds: float = 1.0
    managed_policies: tuple[str, ...] = ()
    _server: Any = None
    _failures: dict[str, str] = field(default_factory=dict)
    _failed: dict[str, _FailedRequest] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
        from moto.moto_server.threaded_moto_server import ThreadedMotoServer

        _check_port_free(self.host, self.port)

        self._server = ThreadedMotoServer(ip_address=self.host, port=self.port, verbose=False)
        self._server.start()
        self.port = self._server.get_host_and_port()[1]
        # The Step Functions interpreter's SDK integrations call back on MOTO_PORT.
        os.environ["MOTO_PORT"] = str(self.port)
        self._install()
        self.configure()

    def configure(self) -> None:
        """Switch the Step Functions interpreter on (again after a reset)."""
        self._post("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}})

    def reset(self) -> None:
        """Forget every emulated resource; keeps the server, patches and interpreter switch."""
        self._post("/moto-api/reset", None)
        with self._lock:
            self._failures.clear()
            self._failed.clear()
        self.configure()

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        with _PATCH_LOCK:
            if self in _ACTIVE:
                _ACTIVE.remove(self)

    def fail_next_create(self, email: str, reason: str) -> None:
        """Make the next CreateAccount for ``email`` end FAILED with ``reason``."""
        with self._lock:
            self._failures[email.lower()] = reason

    def _post(self, path: str, body: dict[str, Any] | None) -> None:
        data = json.dumps(body).encode() if body is not None else b""
        request = urllib.request.Request(self.endpoint + path, data=data, method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 - loopback only
            reply.read()

    # --- the patches -------------------------------------------------------------------

    def _install(self) -> None:
        with _PATCH_LOCK:
            _ACTIVE.append(self)
            if len(_ACTIVE) == 1:
                _patch_moto()

    def _fail_reason(self, backend: Any, email: str) -> str | None:
        with self._lock:
            injected = self._failures.pop(email.lower(), None)
        if injected:
            return injected
        taken = any(
            a.email.lower() == email.lower() and a.status != "SUSPENDED" for a in backend.accounts
        )
        return "EMAIL_ALREADY_EXISTS" if taken else None


def _check_port_free(host: str, port: int) -> None:
    if port == 0:
        return
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OrgvendError(
                f"Port {port} on {host} is in use ({exc.strerror}). Stop what uses it "
                "(an earlier sandbox?) or pick another port with --aws-port."
            ) from exc


def _current() -> Emulator:
    return _ACTIVE[-1]


def _in_progress(account: Any) -> bool:
    if account.id == account.master_account_id:
        return False
    delay = _current().create_seconds
    return bool(
        datetime.now(UTC) < account.create_time.replace(tzinfo=UTC) + timedelta(seconds=delay)
    )


def _patch_iam() -> None:
    from moto.iam import models
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    catalogue: dict[str, Any] = json.loads(aws_managed_policies_data)

    def init_aws_policies(self: Any) -> list[Any]:
        wanted = {arn.rsplit("/", 1)[-1] for arn in _current().managed_policies}
        return [
            models.AWSManagedPolicy.from_data(name, self.account_id, self.region_name, data)
            for name, data in catalogue.items()
            if name in wanted
        ]

    setattr(models.IAMBackend, "_init_aws_policies", init_aws_policies)  # noqa: B010


def _patch_dynamodb() -> None:
    """Conditional writes are atomic on AWS; moto checks and writes without a lock, so two
    threads of its server can both pass the same condition. One lock makes them atomic."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)


def _patch_moto() -> None:
    _patch_iam()
    _patch_dynamodb()
    from moto.core.utils import utcnow
    from moto.organizations import models, utils
    from moto.organizations.exceptions import AccountNotFoundException
    from moto.utilities.paginator import paginate

    backend_cls = models.OrganizationsBackend
    original_create = backend_cls.create_account
    random_id = utils.make_random_account_id
    naming = threading.local()

    def account_id() -> str:
        """Ids follow from the root email, so a replayed organisation keeps its ids."""
        email = getattr(naming, "email", None)
        if email is None:
            return random_id()
        digest = hashlib.sha256(email.lower().encode()).hexdigest()
        return f"{int(digest, 16) % 10**12:012d}"

    utils.make_random_account_id = account_id

    def status(account: Any) -> dict[str, Any]:
        requested = account.create_time.timestamp()
        if _in_progress(account):
            return {
                "CreateAccountStatus": {
                    "Id": account.create_account_status_id,
                    "AccountName": account.name,
                    "State": "IN_PROGRESS",
                    "RequestedTimestamp": requested,
                }
            }
        return {
            "CreateAccountStatus": {
                "Id": account.create_account_status_id,
                "AccountName": account.name,
                "State": "SUCCEEDED",
                "RequestedTimestamp": requested,
                "CompletedTimestamp": requested + _current().create_seconds,
                "AccountId": account.id,
            }
        }

    def failed_status(request: _FailedRequest) -> dict[str, Any]:
        return {
            "CreateAccountStatus": {
                "Id": request.id,
                "AccountName": request.name,
                "State": "FAILED",
                "RequestedTimestamp": request.requested.timestamp(),
                "CompletedTimestamp": request.requested.timestamp(),
                "FailureReason": request.reason,
            }
        }

    def create_account(self: Any, **kwargs: Any) -> dict[str, Any]:
        emulator = _current()
        reason = emulator._fail_reason(self, kwargs["Email"])
        if reason is None:
            naming.email = kwargs["Email"]
            try:
                result: dict[str, Any] = original_create(self, **kwargs)
            finally:
                naming.email = None
            return {
                "CreateAccountStatus": {**result["CreateAccountStatus"], "State": "IN_PROGRESS"}
            }
        request = _FailedRequest(
            id=utils.make_random_create_account_status_id(),
            name=kwargs["AccountName"],
            reason=reason,
            requested=utcnow(),
        )
        with emulator._lock:
            emulator._failed[request.id] = request
        reply = failed_status(request)["CreateAccountStatus"]
        return {"CreateAccountStatus": {**reply, "State": "IN_PROGRESS"}}

    def describe_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        request = _current()._failed.get(kwargs["CreateAccountRequestId"])
        if request is not None:
            return failed_status(request)
        try:
            account = self.get_account_by_attr(
                "create_account_status_id", kwargs["CreateAccountRequestId"]
            )
        except AccountNotFoundException as exc:
            raise AccountNotFoundException from exc
        return status(account)

    def list_create_account_status(self: Any, **kwargs: Any) -> dict[str, Any]:
        states = kwargs.get("States") or ["IN_PROGRESS", "SUCCEEDED", "FAILED"]
        statuses = [status(a)["CreateAccountStatus"] for a in self.accounts if a.name != "master"]
        statuses += [failed_status(r)["CreateAccountStatus"] for r in _current()._failed.values()]
        return {"CreateAccountStatuses": [s for s in statuses if s["State"] in states]}

    @paginate(pagination_model=utils.PAGINATION_MODEL)
    def list_accounts(self: Any) -> list[Any]:
        visible = [a.describe() for a in self.accounts if not _in_progress(a)]
        return sorted(visible, key=lambda x: x["JoinedTimestamp"])

    patched = {
        "create_account": create_account,
        "describe_create_account_status": describe_create_account_status,
        "list_create_account_status": list_create_account_status,
        "list_accounts": list_accounts,
    }
    for name, function in patched.items():
        setattr(backend_cls, name, function)
