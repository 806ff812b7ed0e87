"""The API served for real (uvicorn on loopback) in front of the shared sandbox.

``api`` is module-scoped like ``sandbox``: one landing zone, workflow and pair of workers per
test module, so tests in a module pick distinct stream names.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apitools import Api, serve_api

from orgvend.sandbox import Sandbox


@pytest.fixture(scope="module")
def api(sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    yield from serve_api(sandbox, tmp_path_factory.mktemp("api"))
