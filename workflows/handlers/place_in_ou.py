"""Worker step ``PlaceInOu``: move the new account into its environment's OU."""

from __future__ import annotations

from typing import Any

from bootstrap import provisioning
from bootstrap.provisioning import StepTools
from workflows.handlers import StepMessage

STEP = "PlaceInOu"


def handle(tools: StepTools, message: StepMessage) -> dict[str, Any]:
    return provisioning.place_in_ou(tools, message.stream, message.env)
