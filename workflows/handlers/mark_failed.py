"""Worker step ``MarkFailed``: stream FAILED with its named reason."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "MarkFailed"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return lifecycle.mark_failed(tools.streams, message.stream, message.error)
