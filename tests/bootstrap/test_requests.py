"""Stream requests: the schema, then the org-level checks; every error names its field."""

from __future__ import annotations

from typing import Any

import pytest

from bootstrap.config import OrgConfig
from bootstrap.errors import RequestInvalid
from bootstrap.requests import normalise_request


def _request(**extra: Any) -> dict[str, Any]:
    return {
        "name": "payments",
        "display_name": "Payments",
        "owner": {"email": "team@example.com", "team": "Payments"},
        "cost_centre": "CC-1",
        **extra,
    }


def test_normalise_request_defaults_to_both_environments(org_config: OrgConfig) -> None:
    assert normalise_request(_request(), org_config)["environments"] == ["live", "devtest"]


@pytest.mark.parametrize(
    "extra,path",
    [
        ({"name": "Payments!"}, "/name"),
        ({"name": "ab"}, "/name"),
        ({"environments": ["live", "live"]}, "/environments"),
        ({"environments": ["prod"]}, "/environments/0"),
        ({"roles": ["useraccount-root"]}, "/roles/0"),
        ({"tags": {"aws:owner": "x"}}, "/tags"),
        ({"tags": {"k": "v" * 257}}, "/tags/k"),
        ({"tags": {f"k{i}": "v" for i in range(51)}}, "/tags"),
        ({"cidr": {"live": "192.168.0.0/20"}}, "/cidr/live"),
        ({"cidr": {"live": "10.0.0.0/20"}}, "/cidr/live"),
        ({"environments": ["devtest"], "cidr": {"live": "10.64.0.0/20"}}, "/cidr/live"),
        ({"extra": True}, ""),
    ],
)
def test_normalise_invalid_request_names_the_field(
    org_config: OrgConfig, extra: dict[str, Any], path: str
) -> None:
    with pytest.raises(RequestInvalid) as caught:
        normalise_request(_request(**extra), org_config)
    assert path in [e["path"] for e in caught.value.errors], caught.value.errors
    assert all(e["message"] for e in caught.value.errors)


def test_normalise_request_without_owner_says_it_is_required(org_config: OrgConfig) -> None:
    data = _request()
    del data["owner"]
    with pytest.raises(RequestInvalid) as caught:
        normalise_request(data, org_config)
    assert caught.value.errors == [{"path": "/owner", "message": "is required"}]
