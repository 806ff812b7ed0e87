"""docs/operating.md names every failure code a person can meet, so none goes unexplained."""

from __future__ import annotations

import inspect
from pathlib import Path

import bootstrap.errors as errors
from workflows.definition import all_states

OPERATING = Path(__file__).resolve().parents[2] / "docs" / "operating.md"
WORKER_CODES = {"Transient.AwsUnavailable", "Orgvend.InternalError", "Orgvend.Unknown"}
"""Codes ``workflows.worker.failure_of`` and ``bootstrap.lifecycle`` make up themselves."""


def _error_codes() -> set[str]:
    classes = [
        c
        for c in vars(errors).values()
        if inspect.isclass(c) and issubclass(c, errors.OrgvendError)
    ]
    codes = {c.code for c in classes} - {errors.AccountCreationFailed.code}
    return codes | {f"AccountCreationFailed.{r}" for r in errors.ACCOUNT_FAILURE_ADVICE}


def _asl_codes() -> set[str]:
    return {
        code
        for _, state in all_states()
        for rule in state.get("Retry", []) + state.get("Catch", [])
        for code in rule["ErrorEquals"]
        if code != "States.ALL"
    }


def test_operating_guide_names_every_failure_code() -> None:
    text = OPERATING.read_text(encoding="utf-8")
    codes = _error_codes() | _asl_codes() | WORKER_CODES
    missing = sorted(code for code in codes if f"`{code}`" not in text)
    assert missing == []
