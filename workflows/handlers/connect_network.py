"""Worker step ``ConnectNetwork``: VPC, peering with the operations hub, routes both ways."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "ConnectNetwork"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.connect_network(tools, message.stream, message.env)
