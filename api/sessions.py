"""Page sessions: a signed, expiring cookie that names the caller, and its CSRF token.

The cookie is HttpOnly and SameSite=Strict, and still every state-changing form carries the
session's CSRF token: SameSite is a browser's promise, the token is the server's check. The
token lives inside the signed cookie, so no server-side session store is needed and any
instance holding the same secret can check it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from api.auth import Principal, Role

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "SIGNIN_COOKIE",
    "PageSession",
    "SessionCodec",
    "same_token",
]

SESSION_COOKIE = "orgvend_session"
SIGNIN_COOKIE = "orgvend_signin"
"""Holds the sign-in form's CSRF token before any session exists (double submit)."""
CSRF_FIELD = "csrf"
CSRF_HEADER = "x-csrf-token"


@dataclass(frozen=True)
class PageSession:
    principal: Principal
    csrf: str
    expires: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def same_token(a: str | None, b: str | None) -> bool:
    """Constant-time equality of two non-empty tokens."""
    return bool(a) and bool(b) and hmac.compare_digest(str(a), str(b))


class SessionCodec:
    def __init__(self, secret: bytes, *, max_age_seconds: int = 8 * 3600) -> None:
        if len(secret) < 32:
            raise ValueError("the session secret must be at least 32 bytes")
        self._secret = secret
        self.max_age_seconds = max_age_seconds

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode("ascii"), hashlib.sha256).digest())

    def issue(self, principal: Principal) -> tuple[str, PageSession]:
        """A cookie value for ``principal`` and the session it stands for."""
        session = PageSession(
            principal=principal,
            csrf=secrets.token_urlsafe(24),
            expires=int(time.time()) + self.max_age_seconds,
        )
        body = {
            "n": principal.name,
            "r": principal.role.label,
            "c": session.csrf,
            "x": session.expires,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode("utf-8"))
        return f"{payload}.{self._sign(payload)}", session

    def read(self, value: str | None) -> PageSession | None:
        """The session a cookie stands for; None when forged, malformed or expired."""
        if not value or value.count(".") != 1:
            return None
        payload, signature = value.split(".")
        try:
            if not hmac.compare_digest(signature, self._sign(payload)):
                return None
            body = json.loads(_unb64(payload))
            session = PageSession(
                principal=Principal(str(body["n"]), Role.parse(str(body["r"]))),
                csrf=str(body["c"]),
                expires=int(body["x"]),
            )
        except (ValueError, KeyError, TypeError, UnicodeError):
            return None
        return session if session.expires > time.time() else None
