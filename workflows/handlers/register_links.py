"""Worker step ``RegisterLinks``: catalogue every account of the stream once all are built."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "RegisterLinks"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.register_links(tools, message.stream)
