from __future__ import annotations

from dataclasses import replace
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest

from bootstrap.catalogue import (
    Link,
    LinkCatalogue,
    display_name,
    links_for_account,
    switch_url,
)
from bootstrap.changes import Plan
from bootstrap.config import PALETTE, OrgConfig
from bootstrap.store import DynamoRecordTable, TableNames, ensure_tables

USERS_ID = "111111111111"
VAULT_ID = "222222222222"
PAYMENTS_LIVE_ID = "333333333333"
PAYMENTS_DEVTEST_ID = "444444444444"
SEARCH_DEVTEST_ID = "555555555555"


@pytest.fixture
def catalogue(aws: boto3.Session) -> LinkCatalogue:
    ensure_tables(aws, TableNames())
    return LinkCatalogue(DynamoRecordTable(aws, TableNames().links))


def _sample(config: OrgConfig) -> list[Link]:
    return [
        *links_for_account(
            config,
            account_id=SEARCH_DEVTEST_ID,
            account_name="search-devtest",
            kind="devtest",
            stream="search",
        ),
        *links_for_account(
            config,
            account_id=PAYMENTS_LIVE_ID,
            account_name="payments-live",
            kind="live",
            stream="payments",
        ),
        *links_for_account(
            config,
            account_id=PAYMENTS_DEVTEST_ID,
            account_name="payments-devtest",
            kind="devtest",
            stream="payments",
        ),
        *links_for_account(config, account_id=VAULT_ID, account_name="vault", kind="vault"),
    ]


@pytest.mark.parametrize(
    "name",
    [
        "payments live",
        "a&b=c?d#e/f",
        "<script>alert('x')</script>",
        "\"double\" and 'single' quotes",
        "Zürich ☃ 東京 live",
        "100% + plus",
    ],
)
def test_switch_url_round_trips_every_parameter(name: str) -> None:
    url = switch_url(
        account_id=PAYMENTS_LIVE_ID,
        role_name="useraccount-fulladmin",
        display_name=name,
        colour=PALETTE["red"],
    )

    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == (
        "https",
        "signin.aws.amazon.com",
        "/switchrole",
    )
    assert parse_qs(parts.query, strict_parsing=True) == {
        "account": [PAYMENTS_LIVE_ID],
        "roleName": ["useraccount-fulladmin"],
        "displayName": [name],
        "color": ["f2b0a9"],
    }
    assert not set(parts.query) & set(" <>\"'#")


def test_switch_url_truncates_display_name_over_64_characters() -> None:
    url = switch_url(
        account_id=PAYMENTS_LIVE_ID,
        role_name="useraccount-readonly",
        display_name="x" * 70 + "tail",
        colour=PALETTE["green"],
    )

    assert parse_qs(urlsplit(url).query)["displayName"] == ["x" * 64]


@pytest.mark.parametrize("colour", ["ff0000", "#f2b0a9", "red", "F2B0A9X", ""])
def test_switch_url_refuses_colour_outside_palette(colour: str) -> None:
    with pytest.raises(ValueError, match="palette"):
        switch_url(
            account_id=PAYMENTS_LIVE_ID,
            role_name="useraccount-readonly",
            display_name="payments-live/readonly",
            colour=colour,
        )


@pytest.mark.parametrize(
    ("account_id", "role_name"),
    [("12345", "useraccount-readonly"), (PAYMENTS_LIVE_ID, "role&evil=1"), (PAYMENTS_LIVE_ID, "")],
)
def test_switch_url_refuses_malformed_account_or_role(account_id: str, role_name: str) -> None:
    with pytest.raises(ValueError):
        switch_url(
            account_id=account_id, role_name=role_name, display_name="x", colour=PALETTE["blue"]
        )


def test_display_name_drops_standard_role_prefix() -> None:
    assert display_name("payments-live", "useraccount-fulladmin") == "payments-live/fulladmin"
    assert (
        display_name("rnd", "OrganizationAccountAccessRole") == "rnd/OrganizationAccountAccessRole"
    )


def test_display_name_is_ascii_and_keeps_role_when_long() -> None:
    assert display_name("Zürich-live\n", "useraccount-readonly") == "Zurich-live/readonly"

    long_name = display_name("a" * 100, "useraccount-fulladmin")
    assert len(long_name) == 64
    assert long_name.endswith("a/fulladmin")


def test_links_for_account_gives_one_link_per_standard_role(org_config: OrgConfig) -> None:
    links = links_for_account(
        org_config,
        account_id=PAYMENTS_DEVTEST_ID,
        account_name="payments-devtest",
        kind="devtest",
        stream="payments",
    )

    assert [link.role_name for link in links] == ["useraccount-fulladmin", "useraccount-readonly"]
    assert {(link.stream, link.environment, link.colour) for link in links} == {
        ("payments", "devtest", PALETTE["green"])
    }
    assert links[0].display_name == "payments-devtest/fulladmin"
    query = parse_qs(urlsplit(links[0].url).query)
    assert query["account"] == [PAYMENTS_DEVTEST_ID]
    assert query["roleName"] == ["useraccount-fulladmin"]


def test_links_for_account_core_account_has_no_stream(org_config: OrgConfig) -> None:
    links = links_for_account(org_config, account_id=VAULT_ID, account_name="vault", kind="vault")

    assert [(link.stream, link.role_name, link.colour) for link in links] == [
        (None, "useraccount-audit", PALETTE["blue"])
    ]


def test_links_for_account_refuses_stream_kind_without_stream(org_config: OrgConfig) -> None:
    with pytest.raises(ValueError, match="stream"):
        links_for_account(org_config, account_id=PAYMENTS_LIVE_ID, account_name="x", kind="live")


def test_link_item_round_trips_without_stream() -> None:
    link = Link(
        None, "users", USERS_ID, "users", "useraccount-readonly", "users/readonly", "83d4e8"
    )
    item = {k: v for k, v in link.to_item().items() if v is not None}

    assert Link.from_item(item) == link


def test_register_links_twice_second_run_unchanged(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    links = _sample(org_config)
    first, second = Plan(), Plan()

    catalogue.register(links, plan=first)
    catalogue.register(links, plan=second)

    assert [c.action for c in first.changes] == ["create"] * len(links)
    assert [c.action for c in second.changes] == ["unchanged"] * len(links)
    assert sorted(catalogue.all(), key=lambda link: link.url) == sorted(
        links, key=lambda link: link.url
    )


def test_register_links_changed_display_name_updates(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    links = _sample(org_config)
    catalogue.register(links, plan=Plan())
    renamed = replace(links[0], display_name="search dev/fulladmin")
    plan = Plan()

    catalogue.register([renamed, *links[1:]], plan=plan)

    assert [(c.action, c.detail) for c in plan.changed] == [("update", "display_name")]
    stored = [link for link in catalogue.all() if link.account_id == renamed.account_id]
    assert renamed in stored
    assert links[0] not in stored


def test_register_links_dry_run_writes_nothing(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    plan = Plan(dry_run=True)

    catalogue.register(_sample(org_config), plan=plan)

    assert {c.action for c in plan.changes} == {"create"}
    assert catalogue.all() == []


def test_all_links_core_first_then_streams_in_order(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    catalogue.register(_sample(org_config), plan=Plan())

    order = [(link.stream, link.environment, link.role_name) for link in catalogue.all()]

    assert order == [
        (None, "vault", "useraccount-audit"),
        ("payments", "devtest", "useraccount-fulladmin"),
        ("payments", "devtest", "useraccount-readonly"),
        ("payments", "live", "useraccount-live-admin"),
        ("payments", "live", "useraccount-readonly"),
        ("search", "devtest", "useraccount-fulladmin"),
        ("search", "devtest", "useraccount-readonly"),
    ]


def test_for_stream_links_only_that_stream(catalogue: LinkCatalogue, org_config: OrgConfig) -> None:
    catalogue.register(_sample(org_config), plan=Plan())

    links = catalogue.for_stream("payments")

    assert {link.account_id for link in links} == {PAYMENTS_LIVE_ID, PAYMENTS_DEVTEST_ID}
    assert len(links) == 4
    assert catalogue.for_stream("unknown") == []


def test_remove_account_links_leaves_other_accounts(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    catalogue.register(_sample(org_config), plan=Plan())

    removed = catalogue.remove_account(PAYMENTS_LIVE_ID)

    assert removed == 2
    remaining = {link.account_id for link in catalogue.all()}
    assert PAYMENTS_LIVE_ID not in remaining
    assert remaining == {VAULT_ID, PAYMENTS_DEVTEST_ID, SEARCH_DEVTEST_ID}
    assert catalogue.remove_account(PAYMENTS_LIVE_ID) == 0


def test_register_links_deletes_a_role_no_longer_configured(
    catalogue: LinkCatalogue, org_config: OrgConfig
) -> None:
    links = _sample(org_config)
    catalogue.register(links, plan=Plan())
    dropped = links[0]
    kept = [link for link in links if link != dropped]
    plan = Plan()

    catalogue.register(kept, plan=plan)

    assert [(c.action, c.resource) for c in plan.changed] == [
        ("delete", f"link {dropped.account_id}/{dropped.role_name}")
    ]
    assert dropped not in catalogue.all()
    assert len(catalogue.all()) == len(kept)
