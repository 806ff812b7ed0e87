"""Generated requests against ``/openapi.json``: no 5xx, every answer as documented.

Schemathesis generates valid and invalid requests for every operation from the OpenAPI
document (the stream request body is the project's JSON Schema), calls the served app, and
checks status codes, media types, headers and bodies against what the document promises.
Streams start a one-state machine here: the workflow itself is tested elsewhere, and this keeps
1,000+ cases fast.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.auth import TokenFile, make_sandbox_tokens
from api.serve import BackgroundServer
from bootstrap.changes import Plan
from bootstrap.config import OrgConfig
from bootstrap.emulator import Emulator
from bootstrap.landing_zone import bootstrap_landing_zone
from bootstrap.settings import Settings
from bootstrap.store import TableNames

CASES_PER_OPERATION = 150
NEGATIVE_PER_OPERATION = 40
MINIMUM_CASES = 1000
CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
_TRIVIAL = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def _trivial_machine(session: boto3.Session) -> str:
    sfn = session.client("stepfunctions")
    reply = sfn.create_state_machine(
        name="orgvend-fuzz",
        definition=_TRIVIAL,
        roleArn="arn:aws:iam::123456789012:role/orgvend-fuzz",
    )
    return str(reply["stateMachineArn"])


@pytest.fixture(scope="module")
def served(
    emulator: Emulator, org_config: OrgConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, dict[str, str]]]:
    emulator.reset()
    emulator.create_seconds = 0.0
    session = boto3.Session(region_name="eu-west-2")
    tables = TableNames()
    bootstrap_landing_zone(session, org_config, tables=tables, plan=Plan(), poll_seconds=0.05)
    settings = Settings(tables=tables, state_machine_arn=_trivial_machine(session))
    path: Path = tmp_path_factory.mktemp("schema") / "tokens.json"
    tokens = make_sandbox_tokens(path)
    app = create_app(session=session, config=org_config, settings=settings, roles=TokenFile(path))
    with BackgroundServer(app) as url:
        yield url, tokens
    emulator.create_seconds = 0.2


def _run(operation: Any, mode: GenerationMode, count: int, headers: dict[str, str]) -> int:
    seen = 0

    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        nonlocal seen
        seen += 1
        response = case.call(headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

    check()
    return seen


def test_generated_requests_get_documented_answers(served: tuple[str, dict[str, str]]) -> None:
    url, tokens = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    schema.config.base_url = url
    headers = {"Authorization": f"Bearer {tokens['ops']}"}
    total = 0
    per_operation: dict[str, int] = {}
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        count = _run(operation, GenerationMode.POSITIVE, CASES_PER_OPERATION, headers)
        if operation.query or operation.path_parameters or operation.body:
            count += _run(operation, GenerationMode.NEGATIVE, NEGATIVE_PER_OPERATION, headers)
        per_operation[label] = count
        total += count
    assert {"POST /api/streams", "GET /api/links", "POST /api/streams/{name}/approve"} <= set(
        per_operation
    )
    assert total >= MINIMUM_CASES, per_operation


def test_request_body_schema_is_the_stream_request_schema_file(
    served: tuple[str, dict[str, str]],
) -> None:
    url, _ = served
    document = schemathesis.openapi.from_url(f"{url}/openapi.json").raw_schema
    body = document["paths"]["/api/streams"]["post"]["requestBody"]["content"]
    assert body["application/json"]["schema"] == {"$ref": "#/components/schemas/StreamRequest"}
    on_disk = json.loads(
        (Path(__file__).resolve().parents[2] / "schemas/stream-request.schema.json").read_text()
    )
    published = document["components"]["schemas"]["StreamRequest"]
    assert published == {k: v for k, v in on_disk.items() if k != "$id"}
