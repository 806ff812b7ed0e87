"""Vending benchmark: prints a table and writes bench/results/vend.json.

(a) one stream end to end through the workflow, next to a bare sequential script making the
    same AWS calls (the same bootstrap functions, no Step Functions, queue or records) against
    the same emulator; (b) 1, 10 and 50 streams submitted at once. Where the time goes comes
    from the stream records' timelines: time inside steps, Wait-state polling, and the hops
    between steps (queue, worker pick-up, interpreter).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bootstrap import organization, roles  # noqa: E402
from bootstrap.aws import member_session  # noqa: E402
from bootstrap.catalogue import LinkCatalogue, links_for_account  # noqa: E402
from bootstrap.changes import Plan  # noqa: E402
from bootstrap.config import load_config  # noqa: E402
from bootstrap.network import ensure_stream_network  # noqa: E402
from bootstrap.settings import Settings  # noqa: E402
from orgvend.sandbox import Sandbox  # noqa: E402
from workflows.vending import stream_store, submit  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "vend.json"


def _request(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": name,
        "owner": {"email": f"{name}@example.com", "team": "bench"},
        "cost_centre": "BENCH",
    }


def _wait_all(box: Sandbox, names: list[str], timeout: float) -> list[dict[str, Any]]:
    assert box.session is not None
    streams = stream_store(box.session, box.settings)
    deadline = time.monotonic() + timeout
    while True:
        records = [streams.require(n) for n in names]
        if all(r["status"] in ("SUCCEEDED", "FAILED") for r in records):
            return records
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out: {[r['status'] for r in records]}")
        time.sleep(0.2)


def _vend(box: Sandbox, names: list[str]) -> tuple[float, list[dict[str, Any]]]:
    assert box.session is not None
    started = time.monotonic()
    for name in names:
        submit(
            box.session, box.config, box.settings, _request(name), requested_by="bench", ops=True
        )
    records = _wait_all(box, names, timeout=900)
    return time.monotonic() - started, records


def _bare(box: Sandbox, name: str) -> float:
    """The same AWS calls, one after another, from one thread."""
    assert box.session is not None and box.zone is not None
    session, config, zone = box.session, box.config, box.zone
    started = time.monotonic()
    plan = Plan()
    pool = iter(IPv4Network("10.79.0.0/16").subnets(new_prefix=20))
    for env in ("live", "devtest"):
        email = config.stream_email(name, env)
        request_id = organization.start_account_creation(
            session, name=f"{name}-{env}", email=email, role_name=config.member_role_name, tags={}
        )
        while (status := organization.creation_status(session, request_id)).state != "SUCCEEDED":
            time.sleep(config.poll_seconds)
        account_id = str(status.account_id)
        organization.ensure_account_in_ou(
            session, account_id, zone.ou_ids[env], plan=plan, label=env
        )
        inside = member_session(session, account_id, role_name=config.member_role_name)
        inside.client("sts").get_caller_identity()
        roles.ensure_standard_roles(
            inside, config, kind=env, users_account_id=zone.accounts["users"], plan=plan
        )
        ops = member_session(
            session, zone.accounts["operations"], role_name=config.member_role_name
        )
        ensure_stream_network(
            inside,
            ops,
            name=f"{name}-{env}",
            cidr=next(pool),
            account_id=account_id,
            ops_account_id=zone.accounts["operations"],
            config=config,
            plan=plan,
        )
        links = links_for_account(
            config, account_id=account_id, account_name=f"{name}-{env}", kind=env, stream=name
        )
        LinkCatalogue(box.tools().links_table).register(links, plan=plan)
    return time.monotonic() - started


def _seconds(a: str, b: str) -> float:
    return (datetime.fromisoformat(b) - datetime.fromisoformat(a)).total_seconds()


def _where(records: list[dict[str, Any]], poll_seconds: int) -> dict[str, Any]:
    """Mean seconds per account: inside steps, in Wait polling, and in hops between steps."""
    inside, waiting, hops = [], [], []
    for record in records:
        for entry in record["accounts"].values():
            timeline = entry.get("timeline", [])
            done = [t for t in timeline if "done_at" in t]
            inside.append(sum(_seconds(t["at"], t["done_at"]) for t in done))
            waiting.append(float(entry.get("polls", 0) + 1) * poll_seconds)
            gaps = [_seconds(a["done_at"], b["at"]) for a, b in itertools.pairwise(done)]
            hops.append(sum(gaps))
    per_step: dict[str, list[float]] = {}
    for record in records:
        for entry in record["accounts"].values():
            for t in entry.get("timeline", []):
                if "done_at" in t:
                    per_step.setdefault(t["step"], []).append(_seconds(t["at"], t["done_at"]))
    return {
        "steps_s": {k: round(statistics.mean(v), 2) for k, v in per_step.items()},
        "in_steps_s": round(statistics.mean(inside), 2),
        "polling_waits_s": round(statistics.mean(waiting), 2),
        "hops_between_steps_s": round(statistics.mean(hops), 2),
    }


def _check(box: Sandbox, records: list[dict[str, Any]]) -> dict[str, Any]:
    cidrs = [
        IPv4Network(e["cidr"]) for r in records for e in r["accounts"].values() if e.get("cidr")
    ]
    emails = [e["email"] for r in records for e in r["accounts"].values()]
    return {
        "all_succeeded": all(r["status"] == "SUCCEEDED" for r in records),
        "cidr_overlaps": sum(a.overlaps(b) for a, b in itertools.combinations(cidrs, 2)),
        "duplicate_emails": len(emails) - len(set(emails)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1,10,50")
    parser.add_argument(
        "--worker-processes",
        type=int,
        default=0,
        help="run workers as this many `orgvend worker` processes instead of threads",
    )
    args = parser.parse_args()
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
    config = load_config(ROOT / "examples" / "org.yaml")
    threads = 0 if args.worker_processes else 4
    box = Sandbox(
        config=config, settings=Settings(), aws_port=0, create_seconds=0.5, workers=threads
    )
    box.start()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "orgvend", "worker", "--concurrency", "8"],
            env=dict(os.environ),
            cwd=ROOT,
        )
        for _ in range(args.worker_processes)
    ]
    try:
        workflow_s, records = _vend(box, ["bench-one"])
        bare_s = _bare(box, "bench-bare")
        single = {
            "workflow_s": round(workflow_s, 2),
            "bare_sequential_s": round(bare_s, 2),
            "ratio": round(workflow_s / bare_s, 2),
            "where": _where(records, config.poll_seconds),
        }
        print(
            f"one stream: workflow {workflow_s:.1f} s, bare sequential {bare_s:.1f} s, "
            f"ratio {single['ratio']} (target <= 1.0)"
        )
        print(f"  per account: {single['where']}")
        batches = []
        for size in (int(s) for s in args.sizes.split(",")):
            names = [f"batch{size}-{i}" for i in range(size)]
            wall, records = _vend(box, names)
            row = {
                "streams": size,
                "wall_s": round(wall, 2),
                "per_stream_s": round(wall / size, 2),
                "vs_single": round(wall / workflow_s, 2),
                **_check(box, records),
                "where": _where(records, config.poll_seconds),
            }
            batches.append(row)
            print(
                f"{size:>3} streams: wall {wall:6.1f} s, per stream {wall / size:5.2f} s, "
                f"{row['vs_single']}x single (target 50 <= 10x); all succeeded "
                f"{row['all_succeeded']}, overlaps {row['cidr_overlaps']}, "
                f"duplicate emails {row['duplicate_emails']}; {row['where']}"
            )
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)
        box.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"single": single, "batches": batches}, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
