"""A table read that all requests share, fresh when reading is cheap, never a wait when not.

Listing pages need every stream or every link, which is a full table scan. While a scan is
cheap (the last one took under ``sync_budget``), a stale snapshot is simply read again before
answering. Once the tables are big, readers get the current snapshot at once and one
background thread reads the next, no more often than every ``slow_factor`` times the last
read took (so a slow scan cannot keep a core busy); writes made through the app mark it stale
so the next read starts a refresh. Only the very first read waits for a scan.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["Snapshot", "Version"]

T = TypeVar("T")
log = logging.getLogger("orgvend.api")
_GENERATIONS = itertools.count(1)


@dataclass(frozen=True)
class Version(Generic[T]):
    value: T
    generation: int
    loaded_at: float
    seconds: float
    """How long reading it took."""


class Snapshot(Generic[T]):
    def __init__(
        self,
        load: Callable[[], T],
        *,
        max_age: float,
        sync_budget: float = 0.25,
        slow_factor: float = 4.0,
        name: str = "snapshot",
    ) -> None:
        self._load = load
        self._max_age = max_age
        self._sync_budget = sync_budget
        self._slow_factor = slow_factor
        self._name = name
        self._state = threading.Lock()
        self._loading = threading.Lock()
        self._current: Version[T] | None = None
        self._dirty = False
        self._reads = 0
        """The first read also builds clients and compiles templates: its time says little."""

    def get(self, *, fresh: bool = False) -> Version[T]:
        """The snapshot; ``fresh`` asks for a read now unless reads have become expensive."""
        with self._state:
            current, dirty = self._current, self._dirty
        if current is not None:
            age = time.monotonic() - current.loaded_at
            stale = fresh or dirty or age > max(self._max_age, self._slow_factor * current.seconds)
            if not stale:
                return current
            if self._reads > 1 and current.seconds > self._sync_budget:
                self._refresh_in_background()
                return current
        return self._load_now(after=current)

    def forget(self) -> None:
        """Mark the snapshot stale: something was written through the app."""
        with self._state:
            self._dirty = True

    def warm(self) -> None:
        """Start the first read in the background, so the first page need not wait."""
        self._refresh_in_background()

    def _load_now(self, *, after: Version[T] | None) -> Version[T]:
        with self._loading:
            with self._state:
                current = self._current
            if current is not None and current is not after:
                return current
            return self._read()

    def _read(self) -> Version[T]:
        with self._state:
            self._dirty = False
        started = time.monotonic()
        value = self._load()
        done = time.monotonic()
        version = Version(value, next(_GENERATIONS), done, done - started)
        with self._state:
            self._current = version
            self._reads += 1
        log.debug("%s read in %.3f s", self._name, version.seconds)
        return version

    def _refresh_in_background(self) -> None:
        if not self._loading.acquire(blocking=False):
            return
        thread = threading.Thread(target=self._background, name=f"orgvend-{self._name}")
        thread.daemon = True
        thread.start()

    def _background(self) -> None:
        try:
            self._read()
        except Exception:
            log.exception("refreshing %s failed; the previous one is kept", self._name)
        finally:
            self._loading.release()
