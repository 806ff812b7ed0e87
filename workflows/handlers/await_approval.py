"""Worker step ``AwaitApproval``: park the task token on the record for the API to answer."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import PARKED, StepMessage

STEP = "AwaitApproval"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    lifecycle.await_approval(tools.streams, message.stream, message.token)
    return PARKED
