"""One module per worker step, each with one ``handle(tools, message)``.

``HANDLERS`` maps the step name used in the ASL (``MessageBody.step``) to its handler; a test
checks that every worker step in the ASL has one here and that every handler is used.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bootstrap.provisioning import StepTools

__all__ = ["HANDLERS", "PARKED", "WITHOUT_HEARTBEAT", "Handler", "StepMessage"]


@dataclass(frozen=True)
class StepMessage:
    """What the state machine sends a worker step (``MessageBody`` in the ASL)."""

    step: str
    stream: str
    token: str
    execution: str = ""
    environment: str | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def parse(cls, body: dict[str, Any]) -> StepMessage:
        return cls(
            step=str(body["step"]),
            stream=str(body["stream"]),
            token=str(body["token"]),
            execution=str(body.get("execution", "")),
            environment=body.get("environment"),
            error=body.get("error"),
        )

    @property
    def env(self) -> str:
        if not self.environment:
            raise ValueError(f"step {self.step} needs an environment")
        return self.environment


PARKED: dict[str, Any] = {"__parked__": True}
"""Returned by a step that keeps its task token open for someone else to answer."""

Handler = Callable[[StepTools, StepMessage], dict[str, Any]]

WITHOUT_HEARTBEAT = frozenset({"AwaitApproval"})
"""Steps whose task has no HeartbeatSeconds (approval may wait for days): the worker cannot
ask whether their token is still alive, and need not, since parking a token is idempotent."""


def _load() -> dict[str, Handler]:
    """Every module of this package is one step: ``STEP`` names it, ``handle`` runs it."""
    found: dict[str, Handler] = {}
    for info in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"{__name__}.{info.name}")
        found[module.STEP] = module.handle
    return found


HANDLERS: dict[str, Handler] = _load()
