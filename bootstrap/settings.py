"""The one settings object: every environment variable orgvend reads is named here.

orgvend's own variables start with ``ORGVEND_``; AWS's keep their names (``AWS_ENDPOINT_URL``,
``AWS_REGION``, ``AWS_PROFILE``) and are read by botocore itself.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bootstrap.store import TableNames

__all__ = ["Settings"]


@dataclass(frozen=True)
class Settings:
    config_path: str = "examples/org.yaml"
    tables: TableNames = field(default_factory=TableNames)
    step_queue_url: str = ""
    state_machine_arn: str = ""
    event_bus_name: str = "orgvend"
    tokens_file: str = ""
    iam_role_map: str = "{}"
    """JSON map of IAM principal ARN glob to API role, for the API behind IAM authorisation."""
    region: str = "eu-west-2"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        defaults = cls()
        return cls(
            config_path=env.get("ORGVEND_CONFIG", defaults.config_path),
            tables=TableNames(
                streams=env.get("ORGVEND_STREAMS_TABLE", defaults.tables.streams),
                links=env.get("ORGVEND_LINKS_TABLE", defaults.tables.links),
                cidrs=env.get("ORGVEND_CIDRS_TABLE", defaults.tables.cidrs),
            ),
            step_queue_url=env.get("ORGVEND_STEP_QUEUE_URL", ""),
            state_machine_arn=env.get("ORGVEND_STATE_MACHINE_ARN", ""),
            event_bus_name=env.get("ORGVEND_EVENT_BUS", defaults.event_bus_name),
            tokens_file=env.get("ORGVEND_TOKENS_FILE", ""),
            iam_role_map=env.get("ORGVEND_IAM_ROLE_MAP", defaults.iam_role_map),
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or defaults.region,
        )

    def to_env(self) -> dict[str, str]:
        """The variables that make :meth:`from_env` give back these settings."""
        return {
            "ORGVEND_CONFIG": self.config_path,
            "ORGVEND_STREAMS_TABLE": self.tables.streams,
            "ORGVEND_LINKS_TABLE": self.tables.links,
            "ORGVEND_CIDRS_TABLE": self.tables.cidrs,
            "ORGVEND_STEP_QUEUE_URL": self.step_queue_url,
            "ORGVEND_STATE_MACHINE_ARN": self.state_machine_arn,
            "ORGVEND_EVENT_BUS": self.event_bus_name,
            "ORGVEND_TOKENS_FILE": self.tokens_file,
            "AWS_REGION": self.region,
        }

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]
