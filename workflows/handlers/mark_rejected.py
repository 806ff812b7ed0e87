"""Worker step ``MarkRejected``: rejected by ops, or not approved in time."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "MarkRejected"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    lifecycle.mark_rejected(tools.streams, tools.config, message.stream, message.error)
    return {}
