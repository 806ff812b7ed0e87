"""The pages in headless Chromium (Debian's ``chromium``, driven by Playwright).

A missing browser fails these tests: CI installs it, and a skipped browser test would hide a
broken page. ``ORGVEND_CHROMIUM`` names another executable.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from apitools import Api, stream_request
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect, sync_playwright

from bootstrap.catalogue import LinkCatalogue
from bootstrap.store import DynamoRecordTable

CHROMIUM = os.environ.get("ORGVEND_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
HOSTILE = """<script>window.__xss=1</script>"'&<img src=x onerror=alert(2)>"""
SLOW = 90_000


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not installed at {CHROMIUM}: apt-get install -y chromium")
    launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield launched
    launched.close()


def _context(browser: Browser, api: Api) -> BrowserContext:
    context = browser.new_context(base_url=api.url, accept_downloads=True)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=api.url)
    context.set_default_timeout(15_000)
    return context


def _signed_in(browser: Browser, api: Api, role: str) -> Page:
    page = _context(browser, api).new_page()
    page.goto("/")
    expect(page).to_have_url(f"{api.url}/signin?next=%2F")
    page.fill("#token", api.tokens[role])
    page.click("#signin-form button[type=submit]")
    expect(page).to_have_url(f"{api.url}/")
    expect(page.locator("header .role")).to_have_text(role)
    return page


def _fill_form(page: Page, name: str) -> None:
    page.goto("/streams/new")
    page.fill("[name='/name']", name)
    page.fill("[name='/display_name']", f"Journey {name}")
    page.fill("[name='/owner/email']", "journey@example.com")
    page.fill("[name='/owner/team']", "Journey team")
    page.fill("[name='/cost_centre']", "CC-42")
    page.fill("[name='/tags']", "purpose=journey")
    page.click("#new-stream button[type=submit]")


def _find_links_and_download(page: Page, api: Api, stream: str) -> None:
    page.goto("/links")
    page.fill("#search", stream)
    visible = page.locator("#catalogue tr[data-row]:visible")
    expect(visible).to_have_count(4)
    assert api.sandbox.session is not None
    table = DynamoRecordTable(api.sandbox.session, api.sandbox.settings.tables.links)
    expected = {link.url for link in LinkCatalogue(table).for_stream(stream)}
    shown = {visible.nth(i).locator("a.switch").get_attribute("href") for i in range(4)}
    assert shown == expected
    with page.expect_download() as download:
        page.click("a[data-format='aws-config']")
    exported = Path(download.value.path()).read_text()
    record = api.record(stream)
    for entry in record["accounts"].values():
        assert f"role_arn = arn:aws:iam::{entry['account_id']}:role/" in exported
    assert download.value.suggested_filename == "aws-config"


def test_journey_request_approve_watch_ready_and_find_links(browser: Browser, api: Api) -> None:
    requester = _signed_in(browser, api, "requester")
    _fill_form(requester, "journey")
    expect(requester).to_have_url(f"{api.url}/streams/journey")
    expect(requester.locator("#stream-status")).to_have_text("PENDING_APPROVAL")
    assert requester.locator("#approve-form").count() == 0

    ops = _signed_in(browser, api, "ops")
    ops.goto("/streams/journey")
    ops.fill("#approve-reason", "within budget")
    ops.click("#approve-form button[type=submit]")
    expect(ops).to_have_url(f"{api.url}/streams/journey")

    ops.goto("/")
    ops.evaluate("window.__sameDocument = 'still here'")
    row = ops.locator("#stream-journey")
    expect(row).to_have_attribute("data-status", "SUCCEEDED", timeout=SLOW)
    for env in ("live", "devtest"):
        account = row.locator(f".account[data-env='{env}']")
        expect(account).to_have_attribute("data-account-status", "READY")
        expect(account.locator(".steps")).to_have_text("6/6")
    assert ops.evaluate("window.__sameDocument") == "still here"  # updated without a reload
    approval = api.record("journey")["approval"]
    assert (approval["decided_by"], approval["reason"]) == ("sandbox-ops", "within budget")

    _find_links_and_download(ops, api, "journey")
    requester.context.close()
    ops.context.close()


def test_search_catalogue_filters_as_you_type(browser: Browser, api: Api) -> None:
    page = _signed_in(browser, api, "viewer")
    page.goto("/links")
    rows = page.locator("#catalogue tr[data-row]")
    total = rows.count()
    assert total >= 8  # the core accounts' links at least
    page.locator("#search").press_sequentially("operations read", delay=20)
    expect(page.locator("#catalogue tr[data-row]:visible")).to_have_count(1)
    expect(page.locator("#match-count")).to_have_text("1 link")
    link = page.locator("#catalogue tr[data-row]:visible a.switch")
    href = link.get_attribute("href") or ""
    assert href.startswith("https://signin.aws.amazon.com/switchrole?account=")
    assert "roleName=useraccount-readonly" in href
    assert "displayName=operations%2Freadonly" in href
    assert "color=fbc8aa" in href
    page.locator("#catalogue tr[data-row]:visible button.copy").click()
    expect(page.locator("#catalogue tr[data-row]:visible button.copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == href
    page.fill("#search", "no-such-thing-anywhere")
    expect(page.locator("#catalogue tr[data-row]:visible")).to_have_count(0)
    page.fill("#search", "")
    expect(page.locator("#catalogue tr[data-row]:visible")).to_have_count(total)
    page.context.close()


def test_show_hostile_display_name_as_text_on_every_page(browser: Browser, api: Api) -> None:
    with api.client("requester") as http:
        request = stream_request("hostile", display_name=HOSTILE, environments=["devtest"])
        assert http.post("/api/streams", json=request).status_code == 202
    page = _signed_in(browser, api, "viewer")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    shown = (("/", "#stream-hostile .display-name"), ("/streams/hostile", "#display-name"))
    for path, selector in shown:
        page.goto(path)
        expect(page.locator(selector)).to_have_text(HOSTILE)
        assert page.locator("img[src='x']").count() == 0
        assert page.evaluate("window.__xss") is None
    assert dialogs == []
    page.context.close()


def test_show_form_errors_beside_fields_in_the_browser(browser: Browser, api: Api) -> None:
    page = _signed_in(browser, api, "requester")
    page.goto("/streams/new")
    page.fill("[name='/name']", "Not Valid")
    page.click("#new-stream button[type=submit]")
    name_field = page.locator(".field[data-pointer='/name']")
    expect(name_field.locator(".field-error")).to_contain_text("must match the pattern")
    expect(page.locator(".field[data-pointer='/owner/email'] .field-error")).to_contain_text(
        "is required"
    )
    expect(page.locator("[name='/name']")).to_have_value("Not Valid")
    page.context.close()


def test_reject_pending_stream_from_its_page(browser: Browser, api: Api) -> None:
    with api.client("requester") as http:
        http.post("/api/streams", json=stream_request("browser-no", environments=["live"]))
    page = _signed_in(browser, api, "ops")
    page.goto("/streams/browser-no")
    page.fill("#reject-reason", "duplicate of payments")
    page.click("#reject-form button[type=submit]")
    expect(page.locator("#stream-status")).to_have_text("REJECTED", timeout=SLOW)
    expect(page.locator(".live .reason")).to_have_text("duplicate of payments")
    page.context.close()
