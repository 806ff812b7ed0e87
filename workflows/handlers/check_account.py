"""Worker step ``CheckAccount``: one look at the CreateAccount request between Wait states."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "CheckAccount"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.check_account(tools, message.stream, message.env)
