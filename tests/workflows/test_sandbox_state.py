"""`orgvend sandbox --state DIR` keeps the emulated organisation across restarts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from vend_helpers import inside, request, trust_of, vend, wait_until

from bootstrap.catalogue import LinkCatalogue
from bootstrap.config import OrgConfig
from bootstrap.settings import Settings
from bootstrap.store import DynamoRecordTable
from orgvend.sandbox import Sandbox


def _start(config: OrgConfig, state: Path) -> Sandbox:
    box = Sandbox(
        config=config,
        settings=Settings(),
        aws_port=0,
        create_seconds=0.2,
        workers=1,
        visibility_seconds=5,
        state_dir=state,
    )
    box.start()
    return box


@pytest.mark.usefixtures("restore_environ")
def test_restart_sandbox_with_state_keeps_accounts_streams_and_links(
    org_config: OrgConfig, tmp_path: Path
) -> None:
    config = dataclasses.replace(org_config, poll_seconds=1)
    first = _start(config, tmp_path)
    try:
        vend(first, request("kept", environments=["devtest"]))
        assert wait_until(first, "kept")["status"] == "SUCCEEDED"
        assert first.zone is not None
        accounts_before = dict(first.zone.accounts)
    finally:
        first.stop()
    second = _start(config, tmp_path)
    try:
        assert second.zone is not None and second.session is not None
        assert second.zone.accounts == accounts_before
        record = wait_until(second, "kept", ("SUCCEEDED",), timeout=5)
        account_id = record["accounts"]["devtest"]["account_id"]
        links = LinkCatalogue(DynamoRecordTable(second.session, second.settings.tables.links))
        assert {link.account_id for link in links.for_stream("kept")} == {account_id}
        member = inside(second, account_id)
        trust = trust_of(member, "useraccount-fulladmin")["Statement"][0]
        assert trust["Condition"] == {"Bool": {"aws:MultiFactorAuthPresent": "true"}}
        vpcs = member.client("ec2").describe_vpcs(
            Filters=[{"Name": "tag:orgvend:network", "Values": ["kept-devtest"]}]
        )["Vpcs"]
        assert [v["CidrBlock"] for v in vpcs] == [record["accounts"]["devtest"]["cidr"]]
    finally:
        second.stop()
