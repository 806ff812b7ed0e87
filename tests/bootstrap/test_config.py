"""The org config: the example loads with the seed's defaults; bad files name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bootstrap.config import load_config, parse_config
from bootstrap.errors import ConfigInvalid

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "org.yaml"


def _minimal() -> dict[str, Any]:
    return {
        "home_region": "eu-west-1",
        "core_accounts": {
            kind: {"name": kind, "email": f"aws+{kind}@corp.example"}
            for kind in ("users", "operations", "vault", "rnd")
        },
        "stream_email_template": "aws+{stream}-{environment}@corp.example",
    }


def _issues(data: Any) -> list[dict[str, str]]:
    with pytest.raises(ConfigInvalid) as caught:
        parse_config(data)
    return caught.value.errors


def test_load_example_config_gives_the_seed_layout() -> None:
    config = load_config(EXAMPLE)
    assert [r.name for r in config.roles_for("devtest")] == [
        "useraccount-fulladmin",
        "useraccount-readonly",
    ]
    assert [r.name for r in config.roles_for("live")] == [
        "useraccount-live-admin",
        "useraccount-readonly",
    ]
    assert [r.name for r in config.roles_for("vault")] == ["useraccount-audit"]
    assert config.roles_for("users") == ()
    assert config.stream_email("payments", "live") == "aws+payments-live@example.com"


def test_parse_minimal_config_fills_defaults_from_the_schema() -> None:
    config = parse_config(_minimal())
    assert config.organizational_units["live"] == "Streams/Live"
    assert {r.name for r in config.standard_roles} == {
        "useraccount-fulladmin",
        "useraccount-live-admin",
        "useraccount-readonly",
        "useraccount-audit",
    }
    assert config.approval_required is True
    assert config.colour_hex("live") == "f2b0a9"
    assert str(config.network.stream_pool) == "10.64.0.0/12"


@pytest.mark.parametrize(
    "change,path,words",
    [
        (lambda d: d.pop("home_region"), "/home_region", "required"),
        (lambda d: d.update(home_region="Europe"), "/home_region", "pattern"),
        (
            lambda d: d["core_accounts"]["vault"].update(email="nope"),
            "/core_accounts/vault/email",
            "pattern",
        ),
        (
            lambda d: d.update(stream_email_template="aws@corp.example"),
            "/stream_email_template",
            "pattern",
        ),
        (lambda d: d.update(colours={"live": "purple"}), "/colours/live", "one of"),
        (lambda d: d.update(surprise=1), "", "surprise"),
        (
            lambda d: d.update(
                standard_roles=[
                    {
                        "name": "x",
                        "accounts": ["live"],
                        "managed_policies": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
                        "mfa_required": False,
                    }
                ]
            ),
            "/standard_roles/0/mfa_required",
            "must be true",
        ),
        (
            lambda d: d.update(
                network={"operations_vpc_cidr": "10.64.0.0/16", "stream_pool": "10.64.0.0/12"}
            ),
            "/network/stream_pool",
            "overlap",
        ),
    ],
)
def test_parse_invalid_config_names_the_field(change: Any, path: str, words: str) -> None:
    data = _minimal()
    change(data)
    issues = _issues(data)
    assert any(i["path"] == path and words in i["message"] for i in issues), issues


def test_load_config_that_is_not_yaml_fails_with_the_file_named(tmp_path: Path) -> None:
    broken = tmp_path / "org.yaml"
    broken.write_text("home_region: [unclosed\n")
    with pytest.raises(ConfigInvalid, match=r"org\.yaml"):
        load_config(broken)


def test_load_config_reports_every_problem_at_once(tmp_path: Path) -> None:
    data = _minimal()
    data["home_region"] = "x"
    data["core_accounts"]["users"]["email"] = "bad"
    path = tmp_path / "org.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigInvalid) as caught:
        load_config(path)
    paths = {i["path"] for i in caught.value.errors}
    assert {"/home_region", "/core_accounts/users/email"} <= paths
