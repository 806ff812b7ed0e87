"""Faults injected into the emulator's backends, in this process (the server runs here)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from moto.core.exceptions import JsonRESTError, ServiceException


class QueryThrottling(ServiceException):
    """A throttling error for query-protocol services (IAM, EC2, STS)."""

    code = "Throttling"
    message = "Rate exceeded"


class Fault:
    """Counts how often the fault fired, so a test can show the path was really taken."""

    def __init__(self, times: int) -> None:
        self.remaining = times
        self.fired = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.remaining <= 0:
                return False
            self.remaining -= 1
            self.fired += 1
            return True


@contextmanager
def throttled(cls: type, method: str, *, times: int, query: bool = False) -> Iterator[Fault]:
    """``cls.method`` answers a throttling error ``times`` times, then works again."""
    original = getattr(cls, method)
    fault = Fault(times)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        if fault.take():
            if query:
                raise QueryThrottling()
            raise JsonRESTError("TooManyRequestsException", "Rate exceeded")
        return original(self, *args, **kwargs)

    setattr(cls, method, wrapper)
    try:
        yield fault
    finally:
        setattr(cls, method, original)


@contextmanager
def slowed(cls: type, method: str, *, seconds: float) -> Iterator[Fault]:
    """``cls.method`` takes ``seconds`` longer: a slow AWS, so a step is caught mid-way."""
    original = getattr(cls, method)
    fault = Fault(10**6)

    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        fault.take()
        time.sleep(seconds)
        return original(self, *args, **kwargs)

    setattr(cls, method, wrapper)
    try:
        yield fault
    finally:
        setattr(cls, method, original)
