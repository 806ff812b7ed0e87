"""Worker step ``MarkSucceeded``: stream SUCCEEDED, accounts READY."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "MarkSucceeded"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return lifecycle.mark_succeeded(tools, message.stream)
