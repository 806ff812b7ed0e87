"""The pages over HTTP: what they show, the form's errors, escaping, and security headers."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
from apitools import Api, stream_request, wait_until
from markupsafe import escape

from api.middleware import CONTENT_SECURITY_POLICY
from bootstrap.catalogue import LinkCatalogue
from bootstrap.store import DynamoRecordTable
from workflows.definition import all_states

HOSTILE = """<script>alert("x")</script> & 'q' <img src=x onerror=alert(1)>"""


@pytest.fixture(scope="module")
def vended(api: Api) -> Iterator[str]:
    """One stream vended by ops to SUCCEEDED, with a hostile display name."""
    request = stream_request("pages-ok", display_name=HOSTILE, tags={"purpose": "a+b = c"})
    with api.client("ops") as http:
        assert http.post("/api/streams", json=request).status_code == 202
    assert api.wait_for_status("pages-ok", ("SUCCEEDED", "FAILED")) == "SUCCEEDED"
    yield "pages-ok"


def test_render_dashboard_lists_streams_with_progress(api: Api, vended: str) -> None:
    with api.client("viewer") as http:
        page = http.get("/").text
    row = re.search(r'<tr id="stream-pages-ok".*?</tr>', page, re.S)
    assert row is not None
    assert 'data-status="SUCCEEDED"' in row.group(0)
    assert row.group(0).count('<span class="steps">6/6</span>') == 2
    assert 'data-poll="/partials/dashboard"' in page


def test_dashboard_partial_answers_204_while_unchanged(api: Api, vended: str) -> None:
    with api.client("viewer") as http:
        first = http.get("/partials/dashboard")
        generation = first.headers["x-orgvend-generation"]
        again = http.get("/partials/dashboard", headers={"X-Orgvend-Generation": generation})
    assert first.status_code == 200 and "pages-ok" in first.text
    assert again.status_code in (200, 204)
    if again.status_code == 204:
        assert again.content == b""


def test_escape_hostile_text_on_every_page_and_export(api: Api, vended: str) -> None:
    with api.client("ops") as http:
        answers = {
            path: http.get(path).text
            for path in (
                "/",
                "/partials/dashboard",
                "/streams/pages-ok",
                "/partials/streams/pages-ok",
                "/links",
                "/api/links?format=json",
                "/api/links?format=csv",
                "/api/links?format=aws-config",
                "/api/links?format=aesr",
            )
        }
    for path, text in answers.items():
        assert "<script>alert" not in text, path
        assert "<img src=x" not in text, path
    escaped = str(escape(HOSTILE))
    for path in ("/", "/partials/dashboard", "/streams/pages-ok"):
        assert escaped in answers[path], path
    assert "a+b = c" in answers["/streams/pages-ok"]


def test_escape_hostile_tags_refused_by_the_schema(api: Api) -> None:
    """Tags keep to AWS's alphabet, so hostile tags never get in; their errors are escaped."""
    hostile_tags = {"k": "<script>alert('t')</script>", 'it\'s "q"': "v"}
    with api.client("requester") as http:
        page = http.post(
            "/streams/new",
            data={"/name": "<b>bold</b>", "/tags": "k=<script>alert('t')</script>"},
        )
        reply = http.post("/api/streams", json=stream_request("hostile-tags", tags=hostile_tags))
    assert page.status_code == 422
    assert "<script>alert" not in page.text
    assert "<b>bold</b>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert reply.status_code == 422
    assert {e["path"] for e in reply.json()["errors"]} >= {"/tags/k"}


def test_show_form_errors_beside_their_fields(api: Api) -> None:
    with api.client("requester") as http:
        page = http.post(
            "/streams/new",
            data={
                "/name": "Not A Slug",
                "/display_name": "Fine",
                "/owner/email": "nobody",
                "/owner/team": "T",
                "/cost_centre": "CC-1",
                "/roles": "useraccount-readonly",
                "/tags": "no equals sign",
            },
        )
    assert page.status_code == 422

    def field(pointer: str) -> str:
        found = re.search(rf'data-pointer="{re.escape(pointer)}">(.*?)</div>', page.text, re.S)
        assert found is not None, pointer
        return found.group(1)

    assert "must match the pattern" in field("/name")
    assert "must match the pattern" in field("/owner/email")
    assert "write key=value" in field("/tags")
    assert "field-error" not in field("/display_name")
    assert 'value="Fine"' in field("/display_name")


def test_show_form_fields_from_the_schema(api: Api) -> None:
    with api.client("requester") as http:
        page = http.get("/streams/new").text
    pointers = set(re.findall(r'data-pointer="([^"]+)"', page))
    assert pointers == {
        "/name",
        "/display_name",
        "/owner/email",
        "/owner/team",
        "/cost_centre",
        "/environments",
        "/cidr/live",
        "/cidr/devtest",
        "/roles",
        "/tags",
    }
    assert 'value="useraccount-live-admin"' in page
    assert 'value="useraccount-audit"' not in page  # a vault role: no stream account has it


def test_submit_form_as_requester_creates_pending_stream(api: Api) -> None:
    with api.client("requester") as http:
        reply = http.post(
            "/streams/new",
            data={
                "/name": "from-form",
                "/display_name": "From the form",
                "/owner/email": "team@example.com",
                "/owner/team": "Team",
                "/cost_centre": "CC-9",
                "/environments": "devtest",
                "/tags": "purpose = testing\n\nowner=me",
            },
        )
    assert reply.status_code == 303
    record = api.record("from-form")
    assert record["status"] == "PENDING_APPROVAL"
    assert record["request"]["environments"] == ["devtest"]
    assert record["request"]["tags"] == {"purpose": "testing", "owner": "me"}
    assert record["requested_by"] == "sandbox-requester"


def test_security_headers_and_no_inline_script_on_every_page(api: Api, vended: str) -> None:
    with api.client("ops") as http:
        for path in ("/", "/links", "/streams/new", "/streams/pages-ok", "/signin", "/api/streams"):
            reply = http.get(path)
            assert reply.headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
            assert "script-src 'self'" in CONTENT_SECURITY_POLICY
            assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
            assert reply.headers["x-content-type-options"] == "nosniff"
            assert reply.headers["x-frame-options"] == "DENY"
            assert reply.headers["cache-control"] == "no-store"
            if reply.headers["content-type"].startswith("text/html"):
                for body in re.findall(r"<script[^>]*>(.*?)</script>", reply.text, re.S):
                    assert body.strip() == "", path
                assert not re.search(r"<[^>]+\son[a-z]+=", reply.text), path
                assert "javascript:" not in reply.text, path


def test_draw_every_workflow_state_coloured_by_status(api: Api, vended: str) -> None:
    with api.client("viewer") as http:
        page = http.get("/streams/pages-ok").text
    drawn = dict(re.findall(r'data-state="([^"]+)" data-status="([^"]+)"', page))
    assert set(drawn) == {name for name, _ in all_states()}
    assert drawn["MarkSucceeded"] == drawn["ConnectNetwork"] == "succeeded"
    assert drawn["AwaitApproval"] == drawn["MarkFailed"] == "not_started"
    assert 'class="edge edge-catch' not in page  # no catch edge was taken
    assert "<svg" in page and 'id="workflow-graph"' in page


def test_show_failure_code_message_and_what_to_do(api: Api) -> None:
    api.streams.create(
        {
            "name": "pages-failed",
            "status": "FAILED",
            "needs_approval": False,
            "failure_code": "AccountCreationFailed.EMAIL_ALREADY_EXISTS",
            "failure_message": "Another AWS account already uses this root email.",
            "request": stream_request("pages-failed"),
            "accounts": {"live": {"status": "FAILED", "name": "pages-failed-live"}},
        }
    )
    with api.client("viewer") as http:
        page = http.get("/streams/pages-failed").text
        dashboard = wait_until(
            lambda: "pages-failed" in (text := http.get("/").text) and text,
            timeout=10,
            what="the dashboard to list the stream",
        )
    assert "AccountCreationFailed.EMAIL_ALREADY_EXISTS" in page
    assert "Another AWS account already uses this root email." in page
    assert "orgvend vend FILE" in page
    assert "AccountCreationFailed.EMAIL_ALREADY_EXISTS" in dashboard


def test_offer_decision_forms_only_to_ops_on_pending_streams(api: Api) -> None:
    api.streams.create(
        {
            "name": "pages-pending",
            "status": "PENDING_APPROVAL",
            "needs_approval": True,
            "request": stream_request("pages-pending"),
            "accounts": {},
        }
    )
    with api.client("ops") as http:
        ops_page = http.get("/streams/pages-pending").text
    with api.client("requester") as http:
        requester_page = http.get("/streams/pages-pending").text
    assert 'id="approve-form"' in ops_page and 'id="reject-form"' in ops_page
    assert 'id="approve-form"' not in requester_page


def test_list_links_grouped_with_switch_urls_and_downloads(api: Api, vended: str) -> None:
    assert api.sandbox.session is not None
    table = DynamoRecordTable(api.sandbox.session, api.sandbox.settings.tables.links)
    links = LinkCatalogue(table).for_stream("pages-ok")
    assert len(links) == 4
    with api.client("viewer") as http:
        page = wait_until(
            lambda: "pages-ok-live" in (text := http.get("/links").text) and text,
            timeout=10,
            what="the catalogue page to list the stream",
        )
    for link in links:
        assert f'href="{html.escape(link.url)}"' in page
    for env in ("live", "devtest", "operations", "rnd", "vault"):
        assert f"env-group-{env}" in page
    for fmt in ("json", "csv", "aws-config", "aesr"):
        assert f'href="/api/links?format={fmt}" download' in page


def test_export_links_in_every_format(api: Api, vended: str) -> None:
    with api.client("viewer") as http:
        as_json = http.get("/api/links", params={"stream": "pages-ok"})
        as_csv = http.get("/api/links", params={"format": "csv", "stream": "pages-ok"})
        config = http.get("/api/links", params={"format": "aws-config", "user": "alice"})
        aesr = http.get("/api/links", params={"format": "aesr"})
        bad_user = http.get("/api/links", params={"format": "aws-config", "user": "a b"})
        bad_format = http.get("/api/links", params={"format": "xml"})
    ids = {link["account_id"] for link in as_json.json()}
    assert len(ids) == 2 and all(link["stream"] == "pages-ok" for link in as_json.json())
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == 'attachment; filename="orgvend-links.csv"'
    assert as_csv.text.splitlines()[0].startswith("stream,environment,account_id")
    assert config.headers["content-disposition"] == 'attachment; filename="aws-config"'
    for account_id in ids:
        assert f"role_arn = arn:aws:iam::{account_id}:role/useraccount-readonly" in config.text
    assert ":mfa/alice" in config.text
    assert "[orgvend-users]" in aesr.text
    assert bad_user.status_code == bad_format.status_code == 422
