"""Who is calling: roles, bearer tokens stored as hashes, and the role source interface.

Roles are ordered (``viewer`` < ``requester`` < ``ops``): an endpoint names the least role it
needs. :class:`RoleSource` is where a caller's role comes from. The sandbox and a plain
deployment use :class:`TokenFile` (sha256 hashes in ``ORGVEND_TOKENS_FILE``, so the file never
holds a usable secret); the AWS deployment plugs in a source that maps IAM principals, vouched
for by API Gateway, to the same roles.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from pathlib import Path
from typing import Any

from starlette.requests import HTTPConnection

__all__ = [
    "Principal",
    "Role",
    "RoleSource",
    "TokenFile",
    "hash_token",
    "make_sandbox_tokens",
]

log = logging.getLogger("orgvend.api")


class Role(IntEnum):
    VIEWER = 1
    REQUESTER = 2
    OPS = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.upper()]
        except KeyError:
            allowed = ", ".join(r.label for r in cls)
            raise ValueError(f"unknown role {text!r}; allowed: {allowed}") from None


@dataclass(frozen=True)
class Principal:
    """A caller: the name recorded on requests and decisions, and what it may do."""

    name: str
    role: Role

    def may(self, role: Role) -> bool:
        return self.role >= role


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class RoleSource(ABC):
    """Maps a caller to a :class:`Principal`, or to nobody."""

    @abstractmethod
    def from_token(self, token: str) -> Principal | None:
        """The owner of a bearer token (also used by the pages' sign-in form)."""

    def from_connection(self, connection: HTTPConnection) -> Principal | None:
        """A caller the platform has already authenticated (e.g. API Gateway IAM auth).

        Consulted before any bearer token; plain token sources vouch for nobody this way.
        """
        return None


class TokenFile(RoleSource):
    """Tokens in a JSON file: ``{"tokens": [{"sha256": ..., "role": ..., "name": ...}]}``.

    The file is read again when it changes, so a token can be added or revoked without a
    restart. A missing file means no token is valid: every protected call answers 401.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._by_hash: dict[str, Principal] = {}

    def from_token(self, token: str) -> Principal | None:
        if not token:
            return None
        return self._entries().get(hash_token(token))

    def _entries(self) -> dict[str, Principal]:
        try:
            stat = self.path.stat()
        except OSError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if stamp != self._stamp:
                self._by_hash = _parse_tokens(self.path)
                self._stamp = stamp
            return self._by_hash


def _parse_tokens(path: Path) -> dict[str, Principal]:
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.error("tokens file %s is unreadable (%s): no token is valid", path, exc)
        return {}
    entries: dict[str, Principal] = {}
    for index, item in enumerate(data.get("tokens", []) if isinstance(data, dict) else []):
        try:
            digest = str(item["sha256"]).lower()
            entries[digest] = Principal(str(item["name"]), Role.parse(str(item["role"])))
        except (KeyError, TypeError, ValueError) as exc:
            log.error("tokens file %s entry %d ignored: %s", path, index, exc)
    return entries


def make_sandbox_tokens(path: str | Path) -> dict[str, str]:
    """Make one fresh token per role, store their hashes at ``path`` (mode 0600).

    Returns ``{role: token}``: the only time the tokens themselves exist, for the sandbox to
    print. Replaces any tokens the file held before.
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tokens = {role.label: f"ov_{secrets.token_urlsafe(32)}" for role in Role}
    document = {
        "tokens": [
            {"sha256": hash_token(token), "role": role, "name": f"sandbox-{role}"}
            for role, token in tokens.items()
        ]
    }
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(document, fh, indent=2)
        fh.write("\n")
    os.chmod(target, 0o600)
    return tokens
