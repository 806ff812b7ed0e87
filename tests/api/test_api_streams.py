"""``/api/streams``: requesting, replaying, validating, approving and rejecting streams."""

from __future__ import annotations

import json

import httpx
from apitools import Api, stream_request, wait_until

PROBLEM = "application/problem+json"


def _problem(reply: httpx.Response, status: int) -> dict[str, object]:
    assert reply.status_code == status, reply.text
    assert reply.headers["content-type"].startswith(PROBLEM)
    body: dict[str, object] = reply.json()
    assert body["status"] == status
    return body


def _paths(body: dict[str, object]) -> set[str]:
    errors = body["errors"]
    assert isinstance(errors, list)
    return {e["path"] for e in errors}


def test_post_stream_as_requester_waits_for_approval(api: Api) -> None:
    with api.client("requester") as http:
        reply = http.post("/api/streams", json=stream_request("req-waits"))
    assert reply.status_code == 202, reply.text
    body = reply.json()
    assert body["status"] == "PENDING_APPROVAL"
    assert body["requested_by"] == "sandbox-requester"
    assert body["approval"]["required"] is True
    assert [(a["environment"], a["status"]) for a in body["accounts"]] == [
        ("live", "REQUESTED"),
        ("devtest", "REQUESTED"),
    ]
    assert body["links"] == []
    assert api.record("req-waits")["status"] == "PENDING_APPROVAL"


def test_post_stream_identical_replay_answers_200_with_same_record(api: Api) -> None:
    request = stream_request("replayed", environments=["devtest"])
    with api.client("requester") as http:
        first = http.post("/api/streams", json=request)
        again = http.post("/api/streams", json=request)
    assert (first.status_code, again.status_code) == (202, 200)
    assert again.json()["name"] == first.json()["name"]
    assert again.json()["created_at"] == first.json()["created_at"]
    assert again.json()["execution_arn"] == first.json()["execution_arn"]


def test_post_stream_same_name_different_body_conflicts(api: Api) -> None:
    with api.client("requester") as http:
        http.post("/api/streams", json=stream_request("conflicted"))
        reply = http.post("/api/streams", json=stream_request("conflicted", cost_centre="CC-2"))
    assert _problem(reply, 409)["code"] == "StreamConflict"


def test_post_stream_invalid_names_every_field_by_pointer(api: Api) -> None:
    bad = {"name": "Bad Name", "owner": {"email": "nope"}, "colour": "red"}
    with api.client("requester") as http:
        body = _problem(http.post("/api/streams", json=bad), 422)
    assert {"/name", "/owner/email", "/owner/team", "/display_name", "/cost_centre"} <= _paths(body)
    assert "" in _paths(body)  # the unknown field "colour", reported at the document root


def test_post_stream_unknown_role_is_refused_by_the_org_check(api: Api) -> None:
    request = stream_request("bad-role", roles=["useraccount-readonly", "root-everything"])
    with api.client("requester") as http:
        body = _problem(http.post("/api/streams", json=request), 422)
    assert _paths(body) == {"/roles/1"}


def test_post_stream_taken_cidr_is_refused(api: Api) -> None:
    with api.client("requester") as http:
        first = http.post(
            "/api/streams", json=stream_request("cidr-one", cidr={"live": "10.70.0.0/20"})
        )
        second = http.post(
            "/api/streams", json=stream_request("cidr-two", cidr={"live": "10.70.0.0/20"})
        )
    assert first.status_code == 202, first.text
    assert _paths(_problem(second, 422)) == {"/cidr/live"}


def test_post_stream_taken_root_email_is_refused(api: Api) -> None:
    assert api.sandbox.session is not None
    org = api.sandbox.session.client("organizations")
    email = api.sandbox.config.stream_email("taken", "live")
    org.create_account(AccountName="someone-else", Email=email)
    wait_until(
        lambda: any(
            a["Email"] == email for p in org.get_paginator("list_accounts").paginate()
            for a in p["Accounts"]
        ),
        timeout=10,
        what="the account to appear",
    )  # fmt: skip
    with api.client("requester") as http:
        body = _problem(http.post("/api/streams", json=stream_request("taken")), 422)
    assert _paths(body) == {"/name"}
    assert api.streams.get("taken") is None


def test_post_stream_body_over_64kb_is_refused(api: Api) -> None:
    request = stream_request("too-big", display_name="x" * (70 * 1024))
    with api.client("requester") as http:
        declared = http.post("/api/streams", json=request)
        streamed = http.post(
            "/api/streams",
            content=iter([json.dumps(request).encode()]),
            headers={"content-type": "application/json"},
        )
    assert _problem(declared, 413)["code"] == "BodyTooLarge"
    assert _problem(streamed, 413)["code"] == "BodyTooLarge"
    assert api.streams.get("too-big") is None


def test_post_stream_wrong_content_type_is_refused(api: Api) -> None:
    body = json.dumps(stream_request("wrong-type"))
    with api.client("requester") as http:
        reply = http.post("/api/streams", content=body, headers={"content-type": "text/plain"})
    assert _problem(reply, 415)["code"] == "UnsupportedMediaType"


def test_post_stream_not_json_is_invalid(api: Api) -> None:
    with api.client("requester") as http:
        reply = http.post(
            "/api/streams", content=b"{nope", headers={"content-type": "application/json"}
        )
    assert _paths(_problem(reply, 422)) == {""}


def test_post_stream_as_ops_runs_to_ready_accounts_and_links(api: Api) -> None:
    with api.client("ops") as http:
        reply = http.post("/api/streams", json=stream_request("ops-now"))
        assert reply.status_code == 202, reply.text
        assert reply.json()["status"] == "RUNNING"
        assert reply.json()["via"] == "ops"
        api.wait_for_status("ops-now", ("SUCCEEDED", "FAILED"))
        detail = http.get("/api/streams/ops-now").json()
    assert detail["status"] == "SUCCEEDED", detail["failure"]
    for account in detail["accounts"]:
        assert account["status"] == "READY"
        assert len(account["steps_done"]) == account["steps_total"] == 6
        assert account["account_id"]
    states = detail["workflow"]["states"]
    assert detail["workflow"]["status"] == "SUCCEEDED"
    assert states["AwaitApproval"] == "not_started"
    assert states["InstallRoles"] == states["MarkSucceeded"] == "succeeded"
    assert states["MarkFailed"] == "not_started"
    ids = {a["environment"]: a["account_id"] for a in detail["accounts"]}
    urls = {link["url"] for link in detail["links"]}
    assert any(f"account={ids['live']}&roleName=useraccount-live-admin" in u for u in urls)
    assert any(f"account={ids['devtest']}&roleName=useraccount-fulladmin" in u for u in urls)


def test_approve_stream_records_decision_and_vends(api: Api) -> None:
    with api.client("requester") as http:
        assert http.post("/api/streams", json=stream_request("approved")).status_code == 202
    with api.client("ops") as http:
        reply = http.post("/api/streams/approved/approve", json={"reason": "budget agreed"})
        assert reply.status_code == 202, reply.text
        decision = reply.json()["approval"]
        again = http.post("/api/streams/approved/approve", json={})
    assert decision["decision"] == "approved"
    assert decision["decided_by"] == "sandbox-ops"
    assert decision["reason"] == "budget agreed"
    assert decision["decided_at"]
    assert again.status_code == 200
    assert api.wait_for_status("approved", ("SUCCEEDED", "FAILED")) == "SUCCEEDED"
    record = api.record("approved")
    assert {a["status"] for a in record["accounts"].values()} == {"READY"}
    assert "token" not in record["approval"]


def test_reject_stream_records_reason_and_ends_rejected(api: Api) -> None:
    with api.client("requester") as http:
        http.post("/api/streams", json=stream_request("rejected", environments=["live"]))
    with api.client("ops") as http:
        missing_reason = http.post("/api/streams/rejected/reject", json={"reason": "  "})
        reply = http.post("/api/streams/rejected/reject", json={"reason": "no budget"})
        approve_after = http.post("/api/streams/rejected/approve")
    assert _paths(_problem(missing_reason, 422)) == {"/reason"}
    assert reply.status_code == 202, reply.text
    assert api.wait_for_status("rejected", ("REJECTED", "FAILED", "SUCCEEDED")) == "REJECTED"
    approval = api.record("rejected")["approval"]
    assert (approval["decision"], approval["decided_by"], approval["reason"]) == (
        "rejected",
        "sandbox-ops",
        "no budget",
    )
    assert _problem(approve_after, 409)["code"] == "NotPendingApproval"
    assert not any(a.get("account_id") for a in api.record("rejected")["accounts"].values())


def test_approve_before_the_token_is_parked_asks_to_try_again(api: Api) -> None:
    api.streams.create(
        {"name": "no-token", "status": "PENDING_APPROVAL", "needs_approval": True, "accounts": {}}
    )
    with api.client("ops") as http:
        reply = http.post("/api/streams/no-token/approve")
    assert _problem(reply, 409)["code"] == "ApprovalNotReady"
    assert reply.headers["retry-after"] == "2"
    assert "decision" not in (api.record("no-token").get("approval") or {})


def test_approve_unknown_stream_is_not_found(api: Api) -> None:
    with api.client("ops") as http:
        assert _problem(http.post("/api/streams/nobody/approve"), 404)["code"] == "StreamNotFound"
        assert _problem(http.get("/api/streams/nobody"), 404)["code"] == "StreamNotFound"


def test_parked_token_never_appears_in_any_answer(api: Api) -> None:
    with api.client("requester") as http:
        http.post("/api/streams", json=stream_request("secret-token"))
    token = wait_until(
        lambda: (api.record("secret-token").get("approval") or {}).get("token"),
        timeout=30,
        what="the approval token to be parked",
    )
    with api.client("ops") as http:
        answers = [
            http.get("/api/streams/secret-token"),
            http.get("/api/streams"),
            http.get("/api/streams?status=PENDING_APPROVAL"),
            http.get("/streams/secret-token"),
            http.get("/partials/streams/secret-token"),
            http.get("/"),
            http.get("/partials/dashboard"),
        ]
    for answer in answers:
        assert answer.status_code == 200, answer.url
        assert token not in answer.text, answer.url


def test_list_streams_pages_by_cursor_and_filters_by_status(api: Api) -> None:
    for index, status in enumerate(["FAILED", "SUCCEEDED", "FAILED", "FAILED"]):
        api.streams.create(
            {"name": f"zz-list-{index}", "status": status, "needs_approval": False, "accounts": {}}
        )
    seen: list[str] = []
    cursor: str | None = None
    with api.client("viewer") as http:
        wait_until(
            lambda: "zz-list-3" in http.get("/api/streams", params={"cursor": "zz-list-2"}).text,
            timeout=10,
            what="the list to show the new streams",
        )
        while True:
            params = {"status": "FAILED", "limit": "2", **({"cursor": cursor} if cursor else {})}
            page = http.get("/api/streams", params=params).json()
            seen += [item["name"] for item in page["items"]]
            assert all(item["status"] == "FAILED" for item in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        invalid = http.get("/api/streams", params={"status": "DONE", "limit": "0"})
    assert [n for n in seen if n.startswith("zz-list-")] == ["zz-list-0", "zz-list-2", "zz-list-3"]
    assert {"/query/status", "/query/limit"} <= _paths(_problem(invalid, 422))
