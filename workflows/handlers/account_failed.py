"""Worker step ``AccountFailed``: mark one account FAILED with the code that stopped it."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "AccountFailed"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    lifecycle.account_failed(tools.streams, message.stream, message.env, message.error)
    return {}
