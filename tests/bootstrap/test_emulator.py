"""The emulator behaves like AWS where orgvend relies on it."""

from __future__ import annotations

import random
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import boto3

from bootstrap.store import ConditionFailed, DynamoRecordTable, TableNames, ensure_tables

WORKERS, STEPS = 8, 6


def test_conditional_writes_from_many_threads_never_lose_an_update(aws: boto3.Session) -> None:
    ensure_tables(aws, TableNames())
    table = DynamoRecordTable(aws, TableNames().cidrs)
    table.put({"pool": "counter", "version": 1, "hits": []})

    def bump(worker: int) -> int:
        won = 0
        for step in range(STEPS):
            while True:
                item = table.get({"pool": "counter"})
                assert item is not None
                item["hits"] = [*item["hits"], f"{worker}-{step}"]
                version = item["version"]
                item["version"] = version + 1
                try:
                    table.put(item, expected_version=version)
                except ConditionFailed:
                    time.sleep(random.uniform(0, 0.02))
                    continue
                won += 1
                break
        return won

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads often, so a race in the server shows up
    try:
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            wins = sum(pool.map(bump, range(WORKERS)))
    finally:
        sys.setswitchinterval(switch)
    final = table.get({"pool": "counter"})
    assert final is not None
    assert wins == WORKERS * STEPS
    assert final["version"] == wins + 1
    assert len(set(final["hits"])) == wins
