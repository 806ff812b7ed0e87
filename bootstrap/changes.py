"""The report every "ensure" operation writes: what it created, repaired or left unchanged.

An operation asks the plan before it writes. In a dry run the write is not made, so the same
code that applies a change also prints the plan of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["Change", "Plan"]

T = TypeVar("T")

ACTIONS = ("create", "adopt", "update", "repair", "delete", "unchanged")


@dataclass(frozen=True)
class Change:
    resource: str
    action: str
    detail: str = ""

    def __str__(self) -> str:
        suffix = f" ({self.detail})" if self.detail else ""
        return f"{self.action:>9}  {self.resource}{suffix}"


@dataclass
class Plan:
    """Collects changes; runs each write unless ``dry_run``; reports each one to ``progress``."""

    dry_run: bool = False
    progress: Callable[[Change], None] | None = None
    changes: list[Change] = field(default_factory=list)

    def record(
        self,
        resource: str,
        action: str,
        detail: str = "",
        apply: Callable[[], T] | None = None,
    ) -> T | None:
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        result = apply() if apply is not None and not self.dry_run else None
        change = Change(resource, action, detail)
        self.changes.append(change)
        if self.progress is not None:
            self.progress(change)
        return result

    def unchanged(self, resource: str, detail: str = "") -> None:
        self.record(resource, "unchanged", detail)

    @property
    def changed(self) -> list[Change]:
        return [c for c in self.changes if c.action != "unchanged"]
