"""CIDR allocation for stream VPCs, durable and safe under concurrency.

AWS accepts peering VPCs whose ranges overlap and then routes badly, so orgvend keeps every
stream range of a pool in one record and hands them out under optimistic concurrency: two
vends at once can never receive overlapping ranges.
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network
from typing import TypeVar

from bootstrap.errors import (
    CidrOutsidePool,
    CidrOverlap,
    CidrPoolExhausted,
    ConcurrentModification,
)
from bootstrap.store import ConditionFailed, RecordTable

__all__ = ["CidrAllocator"]

_ATTEMPTS = 50
_VPC_PREFIXES = range(16, 29)
"""The sizes AWS allows a VPC: /16 to /28."""
_JITTER = random.SystemRandom()
T = TypeVar("T")
_Allocations = dict[str, IPv4Network]


class CidrAllocator:
    """Every allocation of one pool, in one record, changed only by conditional writes."""

    def __init__(
        self, table: RecordTable, *, pool: IPv4Network, reserved: Sequence[IPv4Network] = ()
    ) -> None:
        self._table = table
        self.pool = pool
        self.reserved = tuple(reserved)

    def allocations(self) -> _Allocations:
        return self._load()[0]

    def allocate(
        self, owner: str, *, prefix: int, requested: IPv4Network | None = None
    ) -> IPv4Network:
        """The owner's range: the one it already has, ``requested``, or the lowest free block."""

        def decide(current: _Allocations) -> tuple[IPv4Network, _Allocations | None]:
            if owner in current:
                return self._existing(owner, current[owner], requested), None
            if requested is not None:
                cidr = self._check_requested(requested, current)
            else:
                cidr = self._lowest_free(prefix, current)
            return cidr, {**current, owner: cidr}

        return self._transact(decide)

    def release(self, owner: str) -> bool:
        """Free the owner's range; False when it held none."""

        def decide(current: _Allocations) -> tuple[bool, _Allocations | None]:
            if owner not in current:
                return False, None
            return True, {k: v for k, v in current.items() if k != owner}

        return self._transact(decide)

    def _load(self) -> tuple[_Allocations, int]:
        item = self._table.get({"pool": str(self.pool)})
        if item is None:
            return {}, 0
        found = {k: ipaddress.IPv4Network(v) for k, v in item.get("allocations", {}).items()}
        return found, int(item["version"])

    def _transact(self, decide: Callable[[_Allocations], tuple[T, _Allocations | None]]) -> T:
        """Read, decide, write if the record is unchanged since the read; else read again."""
        for attempt in range(_ATTEMPTS):
            current, version = self._load()
            result, updated = decide(current)
            if updated is None:
                return result
            item = {
                "pool": str(self.pool),
                "allocations": {k: str(v) for k, v in updated.items()},
                "version": version + 1,
            }
            try:
                self._table.put(item, expected_version=version)
            except ConditionFailed:
                time.sleep(_JITTER.uniform(0, 0.01 * 2 ** min(attempt, 6)))
                continue
            return result
        raise ConcurrentModification(
            f"gave up changing the allocations of pool {self.pool} after {_ATTEMPTS} attempts: "
            "other vends kept changing them"
        )

    @staticmethod
    def _existing(owner: str, cidr: IPv4Network, requested: IPv4Network | None) -> IPv4Network:
        if requested is not None and requested != cidr:
            raise CidrOverlap(
                f"{owner} already holds {cidr}, not the requested {requested}. Request {cidr}, "
                "or release the allocation first."
            )
        return cidr

    def _taken(self, current: _Allocations) -> list[tuple[IPv4Network, str]]:
        reserved = [(net, "reserved (operations hub VPC)") for net in self.reserved]
        return reserved + [(net, f"allocated to {who}") for who, net in current.items()]

    def _check_requested(self, requested: IPv4Network, current: _Allocations) -> IPv4Network:
        if requested.prefixlen not in _VPC_PREFIXES:
            raise CidrOutsidePool(f"requested {requested}: an AWS VPC must be /16 to /28")
        for net, why in self._taken(current):
            if requested.overlaps(net):
                raise CidrOverlap(
                    f"requested {requested} overlaps {net}, {why}. {CidrOverlap.advice}"
                )
        if not requested.subnet_of(self.pool):
            raise CidrOutsidePool(
                f"requested {requested} is not inside the stream pool {self.pool}. "
                f"{CidrOutsidePool.advice}"
            )
        return requested

    def _lowest_free(self, prefix: int, current: _Allocations) -> IPv4Network:
        if prefix not in _VPC_PREFIXES or prefix < self.pool.prefixlen:
            raise CidrOutsidePool(f"a /{prefix} VPC cannot be carved from pool {self.pool}")
        taken = [net for net, _ in self._taken(current)]
        for candidate in self.pool.subnets(new_prefix=prefix):
            if not any(candidate.overlaps(net) for net in taken):
                return candidate
        raise CidrPoolExhausted(
            f"no free /{prefix} is left in pool {self.pool} ({len(current)} allocations). "
            f"{CidrPoolExhausted.advice}"
        )
