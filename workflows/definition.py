"""The stream-vending state machine: one ASL file, rendered with ``${Substitutions}``.

The same file is deployed by ``infra/template.yaml`` (``DefinitionSubstitutions``) and created in
the sandbox by :func:`render`; a test checks both fill every placeholder.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

__all__ = [
    "ASL_PATH",
    "PLACEHOLDER",
    "all_states",
    "placeholders",
    "raw_definition",
    "render",
    "substitutions",
    "task_states",
    "worker_steps",
]

ASL_PATH = Path(__file__).resolve().parent / "stream_vending.asl.json"
PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9]+)\}")
EVENT_SOURCE = "orgvend"


@cache
def raw_definition() -> str:
    return ASL_PATH.read_text(encoding="utf-8")


def placeholders(text: str | None = None) -> set[str]:
    return set(PLACEHOLDER.findall(raw_definition() if text is None else text))


def substitutions(*, step_queue_url: str, event_bus_name: str) -> dict[str, str]:
    """The values for every placeholder, from the deployment's resources."""
    return {
        "StepQueueUrl": step_queue_url,
        "EventBusName": event_bus_name,
        "EventSourceName": EVENT_SOURCE,
    }


def render(values: dict[str, str]) -> str:
    """The ASL with every ``${Name}`` replaced; a missing value is an error, not a blank."""
    missing = placeholders() - values.keys()
    if missing:
        raise KeyError(f"no substitution for {sorted(missing)}")
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], raw_definition())


def _walk(states: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, state in states.items():
        found.append((name, state))
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if processor:
            found += _walk(processor["States"])
        for branch in state.get("Branches", []):
            found += _walk(branch["States"])
    return found


def all_states() -> list[tuple[str, dict[str, Any]]]:
    return _walk(json.loads(raw_definition())["States"])


def task_states() -> list[tuple[str, dict[str, Any]]]:
    return [(n, s) for n, s in all_states() if s["Type"] == "Task"]


def worker_steps() -> set[str]:
    """Names of the steps that run in the worker (SQS callback tasks)."""
    return {
        s["Parameters"]["MessageBody"]["step"]
        for _, s in task_states()
        if s["Resource"].startswith("arn:aws:states:::sqs:sendMessage.waitForTaskToken")
    }
