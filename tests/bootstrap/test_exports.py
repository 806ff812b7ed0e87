from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import boto3
import botocore.session
import pytest
from botocore.configloader import raw_config_parse

from bootstrap.catalogue import Link, links_for_account
from bootstrap.config import PALETTE, OrgConfig
from bootstrap.exports import FILENAMES, FORMATS, MEDIA_TYPES, SOURCE_PROFILE, export

USERS_ID = "111111111111"
REGION = "eu-west-2"


@pytest.fixture
def links(org_config: OrgConfig) -> list[Link]:
    return [
        *links_for_account(org_config, account_id="222222222222", account_name="rnd", kind="rnd"),
        *links_for_account(
            org_config,
            account_id="333333333333",
            account_name="payments-live",
            kind="live",
            stream="payments",
        ),
        *links_for_account(
            org_config,
            account_id="444444444444",
            account_name="payments-devtest",
            kind="devtest",
            stream="payments",
        ),
    ]


def _link(account_id: str, account_name: str, *, display: str | None = None) -> Link:
    return Link(
        stream="odd",
        environment="devtest",
        account_id=account_id,
        account_name=account_name,
        role_name="useraccount-readonly",
        display_name=display or f"{account_name}/readonly",
        colour=PALETTE["green"],
    )


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _aesr_parse(text: str) -> list[tuple[str, dict[str, str]]]:
    """The extension's own rules: cut at ; or #, [section], key = value split at the first =."""
    sections: list[tuple[str, dict[str, str]]] = []
    for raw in text.splitlines():
        line = re.sub(r"[;#].*$", "", raw).strip()
        if not line:
            continue
        header = re.fullmatch(r"\[(.+)\]", line)
        if header:
            sections.append((header.group(1).strip(), {}))
            continue
        key, value = line.split("=", 1)
        params = sections[-1][1]
        assert key.strip() not in params, f"duplicate key in {raw!r}"
        params[key.strip()] = value.strip()
    return sections


def test_export_formats_have_media_type_and_filename() -> None:
    assert set(FORMATS) == set(MEDIA_TYPES) == set(FILENAMES)
    assert MEDIA_TYPES["json"] == "application/json"
    assert MEDIA_TYPES["csv"] == "text/csv"


def test_export_unknown_format_names_allowed_ones(links: list[Link]) -> None:
    with pytest.raises(ValueError, match="json, csv, aws-config, aesr"):
        export(links, "yaml", users_account_id=USERS_ID, region=REGION)


def test_export_json_parses_back_with_urls(links: list[Link]) -> None:
    records = json.loads(export(links, "json", users_account_id=USERS_ID, region=REGION))

    assert [Link(**{k: v for k, v in r.items() if k != "url"}) for r in records] == links
    assert [r["url"] for r in records] == [link.url for link in links]
    assert records[0]["stream"] is None


def test_export_csv_parses_back_to_same_records(links: list[Link]) -> None:
    text = export(links, "csv", users_account_id=USERS_ID, region=REGION)

    rows = list(csv.DictReader(io.StringIO(text, newline="")))

    assert rows == [
        {
            "stream": link.stream or "",
            "environment": link.environment,
            "account_id": link.account_id,
            "account_name": link.account_name,
            "role_name": link.role_name,
            "display_name": link.display_name,
            "colour": link.colour,
            "url": link.url,
        }
        for link in links
    ]


@pytest.mark.parametrize("evil", ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"])
def test_export_csv_neutralises_formula_cells(evil: str) -> None:
    link = _link("555555555555", evil, display=evil)
    text = export([link], "csv", users_account_id=USERS_ID, region=REGION)

    (row,) = csv.DictReader(io.StringIO(text, newline=""))

    assert row["account_name"] == f"'{evil}"
    assert row["display_name"] == f"'{evil}"
    assert all(not value.startswith(("=", "+", "-", "@")) for value in row.values())


def test_export_aws_config_read_by_botocore(
    links: list[Link], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = export(links, "aws-config", users_account_id=USERS_ID, region=REGION, user="alice")
    path = _write(tmp_path, "config", text)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(path))

    sections = raw_config_parse(str(path))
    profiles = [name.removeprefix("profile ") for name in sections]

    assert len(profiles) == len(links) + 1
    assert profiles[0] == SOURCE_PROFILE
    for name, link in zip(profiles[1:], links, strict=True):
        scoped = botocore.session.Session(profile=name).get_scoped_config()
        assert scoped["role_arn"] == f"arn:aws:iam::{link.account_id}:role/{link.role_name}"
        assert scoped["source_profile"] == SOURCE_PROFILE
        assert scoped["mfa_serial"] == f"arn:aws:iam::{USERS_ID}:mfa/alice"
        assert scoped["role_session_name"] == "alice"
        assert scoped["region"] == REGION
    assert "payments-live-live-admin" in profiles
    assert botocore.session.Session(profile=SOURCE_PROFILE).get_scoped_config() == {
        "region": REGION
    }


def test_export_aws_config_profile_names_unique_and_safe(tmp_path: Path) -> None:
    same = [
        _link("555555555555", "Team A"),
        _link("666666666666", "team a"),
        _link("777777777777", "team-a"),
    ]

    text = export(same, "aws-config", users_account_id=USERS_ID, region=REGION)
    sections = raw_config_parse(str(_write(tmp_path, "config", text)))

    names = [name.removeprefix("profile ") for name in sections]
    assert names == [SOURCE_PROFILE, "team-a-readonly", "team-a-readonly-2", "team-a-readonly-3"]
    assert all(re.fullmatch(r"[a-z0-9_.-]+", name) for name in names)


def test_export_aws_config_without_user_omits_mfa_serial(links: list[Link], tmp_path: Path) -> None:
    text = export(links, "aws-config", users_account_id=USERS_ID, region=REGION)

    sections = raw_config_parse(str(_write(tmp_path, "config", text)))

    assert all("mfa_serial" not in values for values in sections.values())
    assert {values.get("role_session_name") for values in list(sections.values())[1:]} == {
        "orgvend"
    }
    assert "--user" in text


def test_export_aws_config_profile_assumes_role_in_target_account(
    aws: boto3.Session, links: list[Link], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = export(links, "aws-config", users_account_id=USERS_ID, region=REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(_write(tmp_path, "config", text)))
    credentials = (
        f"[{SOURCE_PROFILE}]\naws_access_key_id = testing\naws_secret_access_key = testing\n"
    )
    monkeypatch.setenv(
        "AWS_SHARED_CREDENTIALS_FILE", str(_write(tmp_path, "credentials", credentials))
    )
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")

    identity = (
        boto3.Session(profile_name="payments-live-readonly").client("sts").get_caller_identity()
    )

    assert identity["Account"] == "333333333333"
    assert ":assumed-role/useraccount-readonly/orgvend" in identity["Arn"]


def test_export_aws_config_refuses_malformed_user(links: list[Link]) -> None:
    with pytest.raises(ValueError, match="IAM user"):
        export(links, "aws-config", users_account_id=USERS_ID, region=REGION, user="alice\n[x]")


def test_export_aesr_base_section_first_and_targets_complete(links: list[Link]) -> None:
    text = export(links, "aesr", users_account_id=USERS_ID, region=REGION)

    sections = _aesr_parse(text)

    base_name, base = sections[0]
    assert base_name == SOURCE_PROFILE
    assert base["aws_account_id"] == USERS_ID
    assert "role_name" not in base
    assert base["target_role_name"] == "useraccount-readonly"
    assert len(sections) == len(links) + 1
    for (name, params), link in zip(sections[1:], links, strict=True):
        assert name == link.display_name
        assert params == {
            "aws_account_id": link.account_id,
            "role_name": link.role_name,
            "source_profile": SOURCE_PROFILE,
            "color": link.colour,
            "region": REGION,
        }


def test_export_aesr_values_never_hold_parser_breaking_characters() -> None:
    odd = [
        _link("555555555555", "pay=ments;live#1"),
        _link("666666666666", "pay ments live 1", display="pay ments live 1/readonly"),
        _link("777777777777", "[x]", display="[x]"),
        _link("888888888888", "#;=", display="#;="),
    ]

    text = export(odd, "aesr", users_account_id=USERS_ID, region=REGION)
    sections = _aesr_parse(text)

    names = [name for name, _ in sections]
    assert len(set(names)) == len(names) == len(odd) + 1
    for raw in text.splitlines():
        value = raw.split("=", 1)[1] if "=" in raw else raw
        assert not set(value) & set("=;#"), raw
    assert [params["aws_account_id"] for _, params in sections[1:]] == [
        link.account_id for link in odd
    ]


def test_export_aesr_refuses_role_name_with_equals_sign() -> None:
    link = Link("odd", "devtest", "555555555555", "odd", "role=x", "odd/role", PALETTE["green"])

    with pytest.raises(ValueError, match="AESR"):
        export([link], "aesr", users_account_id=USERS_ID, region=REGION)
