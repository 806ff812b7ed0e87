"""Worker step ``MarkRunning``: the stream was approved and now runs."""

from __future__ import annotations

from typing import Any

from bootstrap import lifecycle
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "MarkRunning"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    lifecycle.mark_running(tools.streams, message.stream)
    return {}
