"""Worker step ``EnsureAccount``: find by root email, resume, or create once."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "EnsureAccount"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.ensure_account(tools, message.stream, message.env)
