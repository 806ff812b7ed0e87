"""Static checks of the ASL file: placeholders, retries, timeouts, catches, handlers."""

from __future__ import annotations

import json
import re

import pytest

from workflows import definition
from workflows.handlers import HANDLERS, WITHOUT_HEARTBEAT
from workflows.resources import NAMES

TRANSIENT = {"Transient.Throttled", "Transient.ConcurrentModification"}


def test_render_definition_fills_every_placeholder() -> None:
    values = definition.substitutions(step_queue_url="https://q", event_bus_name="bus")
    rendered = definition.render(values)
    assert definition.placeholders() == set(values)
    assert not definition.PLACEHOLDER.search(rendered)
    json.loads(rendered)


def test_render_definition_refuses_a_missing_substitution() -> None:
    with pytest.raises(KeyError, match="StepQueueUrl"):
        definition.render({"EventBusName": "bus", "EventSourceName": "orgvend"})


def test_definition_holds_no_literal_arn_name_or_url() -> None:
    text = definition.raw_definition()
    arns = set(re.findall(r"arn:aws[a-z-]*:[a-z0-9-]+:[^\"]*", text))
    assert all(arn.startswith("arn:aws:states:::") for arn in arns), arns
    assert "http" not in text
    values = list(_values(json.loads(text)))
    for name in NAMES.values():
        assert not any(name in value for value in values), name


def _values(node: object) -> list[str]:
    """Every string value in the definition, comments left out."""
    if isinstance(node, dict):
        return [v for k, sub in node.items() if k != "Comment" for v in _values(sub)]
    if isinstance(node, list):
        return [v for sub in node for v in _values(sub)]
    return [node] if isinstance(node, str) else []


@pytest.mark.parametrize("name,state", definition.task_states())
def test_task_state_has_retry_timeout_and_catch(name: str, state: dict[str, object]) -> None:
    assert state.get("TimeoutSeconds") or state.get("TimeoutSecondsPath"), name
    retries = state["Retry"]
    assert isinstance(retries, list)
    retried = {code for rule in retries for code in rule["ErrorEquals"]}
    assert retried >= TRANSIENT, name
    assert all(rule.get("JitterStrategy") == "FULL" and rule["BackoffRate"] > 1 for rule in retries)
    catches = state["Catch"]
    assert isinstance(catches, list)
    assert any("States.ALL" in c["ErrorEquals"] for c in catches), name


def test_long_worker_steps_have_heartbeats() -> None:
    for name, state in definition.task_states():
        if name in ("EnsureAccount", "InstallRoles", "ConnectNetwork", "WaitUntilUsable"):
            assert state["HeartbeatSeconds"] < state["TimeoutSeconds"]


def test_map_state_catches_failures_into_mark_failed() -> None:
    maps = [s for _, s in definition.all_states() if s["Type"] == "Map"]
    assert [c["Next"] for m in maps for c in m["Catch"]] == ["MarkFailed"]


def test_every_worker_step_has_a_handler_and_every_handler_is_used() -> None:
    assert definition.worker_steps() == set(HANDLERS)


def test_only_the_steps_known_to_have_no_heartbeat_lack_one() -> None:
    lacking = {
        s["Parameters"]["MessageBody"]["step"]
        for _, s in definition.task_states()
        if "MessageBody" in s["Parameters"] and "HeartbeatSeconds" not in s
    }
    assert lacking == WITHOUT_HEARTBEAT
