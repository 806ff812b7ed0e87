"""API benchmark: prints a table and writes bench/results/api.json.

(a) ``POST /api/streams`` latency with 20 concurrent clients (and one client alone, for
    comparison); the clients run in a separate process so their own work does not share the
    server's interpreter. Executions start a one-state machine: StartExecution costs the same,
    and no workflow threads compete with the API for the CPU.
(b) ``/``, ``/links`` and ``/api/links?format=aws-config`` with 100, 1,000 and 10,000 catalogued
    accounts (two per stream, two roles each) seeded straight into the tables: the first answer
    of a freshly started app (cold: a full table scan of the emulator plus rendering) and then
    warm answers from the shared snapshot.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is bench/api.py: keep bench/ off the path, or ``import api`` would import it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

RESULTS = ROOT / "bench" / "results" / "api.json"
TARGET_POST_P50_MS = 20.0
TARGET_PAGE_MS = 250.0
PAGES = ("/", "/links", "/api/links?format=aws-config")
_TRIVIAL = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Succeed"}}})


def _request(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "display_name": f"Bench {name}",
        "owner": {"email": f"{name}@example.com", "team": "bench"},
        "cost_centre": "BENCH",
        "environments": ["live", "devtest"],
    }


def _post_load(url: str, token: str, clients: int, each: int, prefix: str) -> list[float]:
    """Run in the client process: ``clients`` threads, ``each`` POSTs apiece; seconds each."""

    def one_client(index: int) -> list[float]:
        took = []
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=url, headers=headers, timeout=60) as http:
            for n in range(each):
                started = time.perf_counter()
                reply = http.post("/api/streams", json=_request(f"{prefix}{index}x{n}"))
                took.append(time.perf_counter() - started)
                if reply.status_code != 202:
                    raise RuntimeError(f"POST answered {reply.status_code}: {reply.text[:300]}")
        return took

    with ThreadPoolExecutor(clients) as pool:
        return [t for batch in pool.map(one_client, range(clients)) for t in batch]


def _summary(seconds: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in seconds)
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p95_ms": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(ms[-1], 2),
    }


def _seed_stream(config: Any, index: int) -> tuple[dict[str, Any], list[Any]]:
    from bootstrap.catalogue import links_for_account
    from bootstrap.streams import STEPS, now_iso

    name, stamp = f"seed{index:05d}", now_iso()
    accounts, links = {}, []
    for offset, env in enumerate(("live", "devtest")):
        account_id, account_name = f"{500000000000 + 2 * index + offset}", f"{name}-{env}"
        accounts[env] = {
            "status": "READY",
            "name": account_name,
            "email": config.stream_email(name, env),
            "account_id": account_id,
            "steps_done": list(STEPS),
            "timeline": [{"step": s, "at": stamp, "done_at": stamp} for s in STEPS],
        }
        links += links_for_account(
            config, account_id=account_id, account_name=account_name, kind=env, stream=name
        )
    record = {
        "name": name,
        "request": _request(name),
        "requested_by": "bench",
        "via": "request",
        "status": "SUCCEEDED",
        "needs_approval": True,
        "approval": {"decision": "approved", "decided_by": "bench"},
        "attempt": 1,
        "accounts": accounts,
        "version": 3,
        "created_at": stamp,
        "updated_at": stamp,
    }
    return record, links


class _Bench:
    def __init__(self, workdir: Path) -> None:
        from bootstrap.config import load_config
        from bootstrap.emulator import Emulator

        self.config = load_config(ROOT / "examples" / "org.yaml")
        policies = tuple(
            sorted({p for r in self.config.standard_roles for p in r.managed_policies})
        )
        self.emulator = Emulator(port=0, create_seconds=0.0, managed_policies=policies)
        self.workdir = workdir

    def start(self) -> None:
        import boto3

        from api.auth import make_sandbox_tokens
        from bootstrap.changes import Plan
        from bootstrap.landing_zone import bootstrap_landing_zone
        from bootstrap.settings import Settings
        from bootstrap.store import TableNames

        self.emulator.start()
        os.environ["AWS_ENDPOINT_URL"] = self.emulator.endpoint
        self.session = boto3.Session(region_name=self.config.home_region)
        tables = TableNames()
        bootstrap_landing_zone(
            self.session, self.config, tables=tables, plan=Plan(), poll_seconds=0.05
        )
        machine = self.session.client("stepfunctions").create_state_machine(
            name="orgvend-bench", definition=_TRIVIAL, roleArn="arn:aws:iam::123456789012:role/b"
        )["stateMachineArn"]
        self.settings = Settings(tables=tables, state_machine_arn=machine)
        self.tokens_file = self.workdir / "tokens.json"
        self.tokens = make_sandbox_tokens(self.tokens_file)

    def serve(self) -> Any:
        from api.app import create_app
        from api.auth import TokenFile
        from api.serve import BackgroundServer

        app = create_app(
            session=self.session,
            config=self.config,
            settings=self.settings,
            roles=TokenFile(self.tokens_file),
        )
        return BackgroundServer(app)

    def seed(self, start: int, stop: int) -> None:
        """Streams ``start..stop-1``, each with a READY live and devtest account and links."""
        from bootstrap.store import DynamoRecordTable

        records, links = [], []
        for index in range(start, stop):
            record, stream_links = _seed_stream(self.config, index)
            records.append(record)
            links += [link.to_item() for link in stream_links]
        DynamoRecordTable(self.session, self.settings.tables.streams).put_many(records)
        DynamoRecordTable(self.session, self.settings.tables.links).put_many(links)

    def reset_streams(self) -> None:
        from bootstrap.store import DynamoRecordTable

        table = DynamoRecordTable(self.session, self.settings.tables.streams)
        for item in list(table.scan()):
            table.delete({"name": item["name"]})


def _where_post_time_goes(bench: _Bench) -> dict[str, float]:
    """The domain call alone, in-process: how many AWS calls it makes and what one costs."""
    from api.context import twin_session
    from bootstrap.store import DynamoRecordTable
    from workflows.vending import submit

    session = twin_session(bench.session)
    calls = 0

    def count(**_: Any) -> None:
        nonlocal calls
        calls += 1

    session.events.register("before-call", count)
    submit(session, bench.config, bench.settings, _request("probe0"), requested_by="b", ops=False)
    calls, started, runs = 0, time.perf_counter(), 20
    for n in range(1, runs + 1):
        request = _request(f"probe{n}")
        submit(session, bench.config, bench.settings, request, requested_by="b", ops=False)
    submit_ms = (time.perf_counter() - started) * 1000 / runs
    table = DynamoRecordTable(session, bench.settings.tables.streams)
    started = time.perf_counter()
    for _ in range(50):
        table.get({"name": "probe1"})
    round_trip_ms = (time.perf_counter() - started) * 1000 / 50
    return {
        "submit_ms": round(submit_ms, 2),
        "aws_calls_per_submit": calls / runs,
        "emulator_round_trip_ms": round(round_trip_ms, 2),
    }


def _post_bench(bench: _Bench, clients: int, each: int) -> dict[str, Any]:
    token = bench.tokens["requester"]
    with bench.serve() as url:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http:
            for n in range(5):  # first calls build clients and compile schemas
                http.post("/api/streams", json=_request(f"warm{n}"))
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
            alone = pool.submit(_post_load, url, token, 1, 40, "one").result()
            together = pool.submit(_post_load, url, token, clients, each, "many").result()
    return {
        "one_client": _summary(alone),
        f"{clients}_clients": _summary(together),
        "clients": clients,
        "target_p50_ms": TARGET_POST_P50_MS,
        "where_time_goes": _where_post_time_goes(bench),
    }


def _timed_get(http: httpx.Client, path: str) -> tuple[float, int]:
    started = time.perf_counter()
    reply = http.get(path)
    took = time.perf_counter() - started
    if reply.status_code != 200:
        raise RuntimeError(f"GET {path} answered {reply.status_code}: {reply.text[:300]}")
    return took, len(reply.content)


def _pages_bench(bench: _Bench, accounts: int, repeats: int) -> dict[str, Any]:
    token = bench.tokens["viewer"]
    result: dict[str, Any] = {"accounts": accounts}
    with (
        bench.serve() as url,
        httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=600
        ) as http,
    ):
        for path in PAGES:
            cold, size = _timed_get(http, path)
            warm = [_timed_get(http, path)[0] for _ in range(repeats)]
            result[path] = {
                "cold_ms": round(cold * 1000, 1),
                "bytes": size,
                **_summary(warm),
            }
    return result


def _print(results: dict[str, Any]) -> None:
    post = results["post_streams"]
    many = post[f"{post['clients']}_clients"]
    print(f"POST /api/streams, 1 client:   p50 {post['one_client']['p50_ms']:7.1f} ms  "
          f"p95 {post['one_client']['p95_ms']:7.1f} ms")  # fmt: skip
    print(f"POST /api/streams, {post['clients']} clients: p50 {many['p50_ms']:7.1f} ms  "
          f"p95 {many['p95_ms']:7.1f} ms  (target p50 <= {TARGET_POST_P50_MS:.0f} ms)")  # fmt: skip
    where = post["where_time_goes"]
    print(f"  submit() alone {where['submit_ms']:.1f} ms: {where['aws_calls_per_submit']:.0f} AWS "
          f"calls x {where['emulator_round_trip_ms']:.1f} ms emulator round trip; the rest is "
          "HTTP, auth and JSON")  # fmt: skip
    print(
        f"\n{'accounts':>8}  {'page':<30} {'cold ms':>9} {'warm p50':>9} {'warm p95':>9} {'KB':>8}"
    )
    for row in results["pages"]:
        for path in PAGES:
            cell = row[path]
            print(
                f"{row['accounts']:>8}  {path:<30} {cell['cold_ms']:>9.1f} {cell['p50_ms']:>9.1f} "
                f"{cell['p95_ms']:>9.1f} {cell['bytes'] / 1024:>8.0f}"
            )
    print(f"(target: warm <= {TARGET_PAGE_MS:.0f} ms at 10,000 accounts)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="100,1000,10000", help="catalogued accounts")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--posts", type=int, default=15, help="POSTs per client")
    parser.add_argument("--repeats", type=int, default=20, help="warm GETs per page")
    args = parser.parse_args(argv)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")  # noqa: S106
    os.environ.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    with tempfile.TemporaryDirectory() as folder:
        bench = _Bench(Path(folder))
        bench.start()
        try:
            results: dict[str, Any] = {"post_streams": _post_bench(bench, args.clients, args.posts)}
            bench.reset_streams()
            results["pages"] = []
            seeded = 0
            for size in (int(s) for s in args.sizes.split(",")):
                started = time.monotonic()
                bench.seed(seeded // 2, size // 2)
                seeded = size
                print(f"seeded {size} accounts in {time.monotonic() - started:.1f} s", flush=True)
                results["pages"].append(_pages_bench(bench, size, args.repeats))
        finally:
            bench.emulator.stop()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    _print(results)
    print(f"\nwrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
