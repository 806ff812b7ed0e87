"""Who may do what: every endpoint x every role x no token, tokens, sessions and CSRF."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from apitools import ROLES, Api, stream_request

from api.auth import hash_token, make_sandbox_tokens

RANK = {None: 0, "viewer": 1, "requester": 2, "ops": 3}
MISSING = "matrix-nobody"

# (method, path, least role, is a page, body)
ENDPOINTS = [
    ("GET", "/api/streams", "viewer", False, None),
    ("POST", "/api/streams", "requester", False, {}),
    ("GET", f"/api/streams/{MISSING}", "viewer", False, None),
    ("POST", f"/api/streams/{MISSING}/approve", "ops", False, None),
    ("POST", f"/api/streams/{MISSING}/reject", "ops", False, {"reason": "no"}),
    ("GET", "/api/accounts", "viewer", False, None),
    ("GET", "/api/links?format=csv", "viewer", False, None),
    ("GET", "/partials/dashboard", "viewer", False, None),
    ("GET", f"/partials/streams/{MISSING}", "viewer", False, None),
    ("GET", "/", "viewer", True, None),
    ("GET", "/links", "viewer", True, None),
    ("GET", f"/streams/{MISSING}", "viewer", True, None),
    ("GET", "/streams/new", "requester", True, None),
    ("POST", "/streams/new", "requester", True, {"/name": "x"}),
    ("POST", f"/streams/{MISSING}/approve", "ops", True, {"reason": "ok"}),
    ("POST", f"/streams/{MISSING}/reject", "ops", True, {"reason": "no"}),
]


def _send(http: httpx.Client, method: str, path: str, page: bool, body: object) -> httpx.Response:
    if body is None:
        return http.request(method, path)
    if page:
        return http.request(method, path, data=body)  # type: ignore[arg-type]
    return http.request(method, path, json=body)


@pytest.mark.parametrize("role", [None, *ROLES])
@pytest.mark.parametrize(
    ("method", "path", "least", "page", "body"),
    ENDPOINTS,
    ids=[f"{m} {p}" for m, p, *_ in ENDPOINTS],
)
def test_authorise_endpoint_by_role(
    api: Api, role: str | None, method: str, path: str, least: str, page: bool, body: object
) -> None:
    with api.client(role) as http:
        reply = _send(http, method, path, page, body)
    if role is None and page:
        assert reply.status_code == 303
        assert reply.headers["location"].startswith("/signin?next=")
    elif role is None:
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == 'Bearer realm="orgvend"'
        assert reply.headers["content-type"].startswith("application/problem+json")
    elif RANK[role] < RANK[least]:
        assert reply.status_code == 403
        if not page:
            assert reply.json()["code"] == "Forbidden"
    else:
        assert reply.status_code not in (401, 403, 303), reply.text
        assert reply.status_code < 500


def test_authorise_public_endpoints_without_token(api: Api) -> None:
    with api.client() as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/openapi.json").json()["info"]["title"] == "orgvend"
        assert http.get("/signin").status_code == 200
        assert http.get("/static/orgvend.js").status_code == 200


@pytest.mark.parametrize("header", ["Bearer not-a-token", "Basic dXNlcjpwYXNz", "Bearer"])
def test_authenticate_bad_credentials_is_401_invalid_token(api: Api, header: str) -> None:
    with httpx.Client(base_url=api.url, headers={"Authorization": header}) as http:
        reply = http.get("/api/streams")
    assert reply.status_code == 401
    assert reply.headers["www-authenticate"] == 'Bearer realm="orgvend", error="invalid_token"'


def test_record_caller_identity_on_request(api: Api) -> None:
    with api.client("ops") as http:
        reply = http.post("/api/streams", json=stream_request("who-asked", environments=["live"]))
    assert reply.status_code == 202
    assert api.record("who-asked")["requested_by"] == "sandbox-ops"


def test_make_sandbox_tokens_stores_only_hashes_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "tokens.json"
    tokens = make_sandbox_tokens(path)
    assert set(tokens) == {"viewer", "requester", "ops"}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text(encoding="utf-8")
    stored = json.loads(text)["tokens"]
    assert {(t["role"], t["sha256"]) for t in stored} == {
        (role, hash_token(token)) for role, token in tokens.items()
    }
    assert not any(token in text for token in tokens.values())
    assert len(set(tokens.values())) == 3


def test_revoke_token_by_rewriting_the_file(api: Api) -> None:
    document = json.loads(api.tokens_file.read_text())
    kept = [t for t in document["tokens"] if t["role"] != "viewer"]
    api.tokens_file.write_text(json.dumps({"tokens": kept}) + "\n")
    try:
        with api.client("viewer") as http:
            assert http.get("/api/streams").status_code == 401
        with api.client("requester") as http:
            assert http.get("/api/streams").status_code == 200
    finally:
        api.tokens_file.write_text(json.dumps(document))


@contextmanager
def _sign_in(api: Api, role: str, next_path: str = "/") -> Iterator[httpx.Client]:
    http = httpx.Client(base_url=api.url)
    form = http.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    reply = http.post(
        "/signin", data={"token": api.tokens[role], "csrf": csrf.group(1), "next": next_path}
    )
    assert reply.status_code == 303, reply.text
    try:
        yield http
    finally:
        http.close()


def _page_csrf(http: httpx.Client, path: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', http.get(path).text)
    assert found is not None and found.group(1)
    return found.group(1)


def test_sign_in_sets_httponly_strict_session_cookie(api: Api) -> None:
    http = httpx.Client(base_url=api.url)
    form = http.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    reply = http.post("/signin", data={"token": api.tokens["viewer"], "csrf": csrf.group(1)})
    cookie = next(v for v in reply.headers.get_list("set-cookie") if "orgvend_session=" in v)
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "Path=/" in cookie
    assert api.tokens["viewer"] not in cookie
    assert http.get("/").status_code == 200
    assert http.get("/api/streams").status_code == 200
    http.close()


def test_sign_in_refuses_wrong_token_and_missing_form_token(api: Api) -> None:
    http = httpx.Client(base_url=api.url)
    form = http.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None
    wrong = http.post("/signin", data={"token": "nope", "csrf": csrf.group(1)})
    forged = http.post("/signin", data={"token": api.tokens["ops"], "csrf": "guess"})
    assert wrong.status_code == 401
    assert forged.status_code == 403
    assert "orgvend_session" not in http.cookies
    http.close()


def test_sign_in_never_redirects_off_site(api: Api) -> None:
    for target, expected in [("//evil.example/x", "/"), ("https://evil.example", "/")]:
        http = httpx.Client(base_url=api.url)
        form = http.get("/signin").text
        csrf = re.search(r'name="csrf" value="([^"]+)"', form)
        assert csrf is not None
        reply = http.post(
            "/signin", data={"token": api.tokens["viewer"], "csrf": csrf.group(1), "next": target}
        )
        assert reply.headers["location"] == expected
        http.close()
    with _sign_in(api, "viewer", "/links") as http:
        assert http.get("/links").status_code == 200


def test_session_cookie_api_post_needs_csrf_header(api: Api) -> None:
    with _sign_in(api, "requester") as http:
        csrf = _page_csrf(http, "/streams/new")
        request = stream_request("cookie-post", environments=["devtest"])
        without = http.post("/api/streams", json=request)
        with_header = http.post("/api/streams", json=request, headers={"X-CSRF-Token": csrf})
    assert without.status_code == 403
    assert without.json()["code"] == "CsrfTokenMissing"
    assert with_header.status_code == 202, with_header.text
    assert api.record("cookie-post")["requested_by"] == "sandbox-requester"


def test_session_cookie_form_post_needs_csrf_field(api: Api) -> None:
    with _sign_in(api, "requester") as http:
        csrf = _page_csrf(http, "/streams/new")
        fields = {"/name": "form-csrf", "/display_name": "Form", "/cost_centre": "CC-1"}
        fields |= {"/owner/email": "a@example.com", "/owner/team": "T"}
        without = http.post("/streams/new", data=fields)
        stale = http.post("/streams/new", data={**fields, "csrf": "stale"})
        good = http.post("/streams/new", data={**fields, "csrf": csrf})
    assert without.status_code == stale.status_code == 403
    assert good.status_code == 303
    assert good.headers["location"] == "/streams/form-csrf"


def test_forged_session_cookie_is_ignored(api: Api) -> None:
    with _sign_in(api, "viewer") as http:
        value = http.cookies["orgvend_session"]
        payload, signature = value.split(".")
        http.cookies.clear()
        forged = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
        http.cookies.set("orgvend_session", f"{forged}.{signature}")
        assert http.get("/").status_code == 303
        assert http.get("/api/streams").status_code == 401


def test_requester_session_cannot_approve(api: Api) -> None:
    with _sign_in(api, "requester") as http:
        csrf = _page_csrf(http, "/streams/new")
        reply = http.post(f"/streams/{MISSING}/approve", data={"csrf": csrf})
    assert reply.status_code == 403


def test_sign_out_ends_the_session(api: Api) -> None:
    with _sign_in(api, "viewer") as http:
        csrf = _page_csrf(http, "/")
        assert http.post("/signout", data={"csrf": "wrong"}).status_code == 403
        reply = http.post("/signout", data={"csrf": csrf})
        assert reply.status_code == 303
        assert http.get("/").status_code == 303
