"""The workflow picture: drawn from the ASL, coloured from an execution's history."""

from __future__ import annotations

import json
from typing import Any

from api.graph import workflow_graph
from api.views import state_statuses
from workflows.definition import all_states, raw_definition


def _entered(event_id: int, kind: str, name: str, previous: int = 0) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "type": f"{kind}StateEntered",
        "stateEnteredEventDetails": {"name": name},
    }


def _exited(event_id: int, kind: str, name: str, previous: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "previousEventId": previous,
        "type": f"{kind}StateExited",
        "stateExitedEventDetails": {"name": name},
    }


def _event(event_id: int, kind: str, previous: int) -> dict[str, Any]:
    return {"id": event_id, "previousEventId": previous, "type": kind}


def test_draw_every_state_once_inside_the_picture() -> None:
    graph = workflow_graph()
    names = [node.name for node in graph.nodes]
    assert sorted(names) == sorted(name for name, _ in all_states())
    for node in graph.nodes:
        assert node.x >= 0 and node.x + node.w <= graph.width
        assert node.y >= 0 and node.y + node.h <= graph.height


def test_draw_map_states_inside_their_container_without_overlap() -> None:
    definition = json.loads(raw_definition())
    graph = workflow_graph()
    nodes = {node.name: node for node in graph.nodes}
    for name, state in definition["States"].items():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if not processor:
            continue
        box = nodes[name]
        assert box.container
        for inner in processor["States"]:
            node = nodes[inner]
            assert box.x < node.x and node.x + node.w < box.x + box.w, inner
            assert box.y < node.y and node.y + node.h < box.y + box.h, inner
    leaves = [n for n in graph.nodes if not n.container]
    for a in leaves:
        for b in leaves:
            if a is not b:
                apart = a.x + a.w <= b.x or b.x + b.w <= a.x or a.y + a.h <= b.y or b.y + b.h <= a.y
                assert apart, (a.name, b.name)


def test_draw_an_edge_for_every_transition_and_the_poll_loop_as_a_loop() -> None:
    graph = workflow_graph()
    drawn = {(e.source, e.target): e.kind for e in graph.edges}
    for name, state in all_states():
        for key in ("Next", "Default"):
            if key in state:
                assert (name, state[key]) in drawn
        for catch in state.get("Catch", []):
            assert drawn[(name, catch["Next"])] == "catch"
    assert "loop" in drawn.values()


def test_colour_states_from_history_with_retries_and_map_iterations() -> None:
    events = [
        _event(1, "ExecutionStarted", 0),
        _entered(2, "Choice", "NeedsApproval", 1),
        _exited(3, "Choice", "NeedsApproval", 2),
        _entered(4, "Map", "VendAccounts", 3),
        _entered(5, "Task", "EnsureAccount", 4),
        _entered(6, "Task", "EnsureAccount", 4),
        _event(7, "TaskScheduled", 5),
        _event(8, "TaskFailed", 7),  # retried ...
        _event(9, "TaskScheduled", 8),
        _event(10, "TaskSucceeded", 9),  # ... and recovered
        _exited(11, "Task", "EnsureAccount", 10),
        _event(12, "TaskScheduled", 6),
    ]
    states = state_statuses(events, "RUNNING")
    assert states["NeedsApproval"] == "succeeded"
    assert states["VendAccounts"] == "running"
    assert states["EnsureAccount"] == "running"  # one iteration still in it
    assert states["InstallRoles"] == "not_started"
    assert set(states) == {name for name, _ in all_states()}


def test_colour_failed_task_and_fail_state_red_when_execution_failed() -> None:
    events = [
        _event(1, "ExecutionStarted", 0),
        _entered(2, "Task", "InstallRoles", 1),
        _event(3, "TaskScheduled", 2),
        _event(4, "TaskFailed", 3),
        _entered(5, "Task", "MarkFailed", 4),
        _exited(6, "Task", "MarkFailed", 5),
        _entered(7, "Fail", "Failed", 6),
        _event(8, "ExecutionFailed", 7),
    ]
    states = state_statuses(events, "FAILED")
    assert states["InstallRoles"] == "failed"
    assert states["MarkFailed"] == "succeeded"
    assert states["Failed"] == "failed"
