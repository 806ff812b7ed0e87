"""Worker step ``WaitUntilUsable``: succeed once the account accepts its member role."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "WaitUntilUsable"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.wait_until_usable(tools, message.stream, message.env)
