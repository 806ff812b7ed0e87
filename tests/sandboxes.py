"""A sandbox on the shared emulator for one test module, with the environment put back after."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bootstrap.config import OrgConfig
from bootstrap.emulator import Emulator
from bootstrap.settings import Settings
from orgvend.sandbox import Sandbox


@contextmanager
def running_sandbox(
    emulator: Emulator, org_config: OrgConfig, *, workers: int, visibility_seconds: int
) -> Iterator[Sandbox]:
    saved = dict(os.environ)
    emulator.reset()
    emulator.create_seconds = 0.2
    box = Sandbox(
        config=dataclasses.replace(org_config, poll_seconds=1),
        settings=Settings(),
        emulator=emulator,
        workers=workers,
        visibility_seconds=visibility_seconds,
    )
    box.start()
    try:
        yield box
    finally:
        box.stop()
        os.environ.clear()
        os.environ.update(saved)
