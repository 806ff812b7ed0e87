"""Worker step ``InstallRoles``: the standard roles, with MFA trust on the users account."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "InstallRoles"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.install_roles(tools, message.stream, message.env)
