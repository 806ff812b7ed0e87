"""``orgvend``: the command line. Each subcommand parses its options and calls one package."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
    NoRegionError,
)

from bootstrap.changes import Change, Plan
from bootstrap.config import OrgConfig, load_config
from bootstrap.errors import OrgvendError, RequestInvalid
from bootstrap.settings import Settings

__all__ = ["main"]

_TERMINAL = ("SUCCEEDED", "FAILED", "REJECTED")


def _session(config: OrgConfig) -> boto3.Session:
    return boto3.Session(region_name=config.home_region)


def _print_change(change: Change) -> None:
    print(change, flush=True)


def _settings(session: boto3.Session) -> Settings:
    """Settings from the environment; missing workflow ARNs are found by their deployed names."""
    settings = Settings.from_env()
    if settings.state_machine_arn and settings.step_queue_url:
        return settings
    from workflows.resources import discover

    found = discover(session)
    return settings.with_(
        state_machine_arn=settings.state_machine_arn or found.state_machine_arn,
        step_queue_url=settings.step_queue_url or found.step_queue_url,
        event_bus_name=found.event_bus_name,
    )


def cmd_bootstrap(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from bootstrap.landing_zone import bootstrap_landing_zone

    print("plan:" if args.dry_run else "bootstrapping the landing zone:", flush=True)
    plan = Plan(dry_run=True, progress=_print_change)
    bootstrap_landing_zone(session, config, tables=Settings.from_env().tables, plan=plan)
    print(f"{len(plan.changed)} change(s) planned.", flush=True)
    if args.dry_run or not plan.changed:
        return 0
    applied = Plan(progress=_print_change)
    bootstrap_landing_zone(session, config, tables=Settings.from_env().tables, plan=applied)
    print(f"applied {len(applied.changed)} change(s).", flush=True)
    return 0


def cmd_links(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from bootstrap.catalogue import LinkCatalogue
    from bootstrap.exports import export
    from bootstrap.provisioning import core_account_id
    from bootstrap.store import DynamoRecordTable

    links = LinkCatalogue(DynamoRecordTable(session, Settings.from_env().tables.links)).all()
    if args.stream:
        links = [link for link in links if link.stream == args.stream]
    users = core_account_id(session, config, "users")
    sys.stdout.write(
        export(
            links, args.format, users_account_id=users, region=config.home_region, user=args.user
        )
    )
    return 0


def _progress_line(record: dict[str, Any]) -> str:
    from bootstrap.streams import STEPS

    parts = []
    for env, entry in sorted(record.get("accounts", {}).items()):
        done = len(entry.get("steps_done", []))
        step = entry.get("step") or "-"
        parts.append(f"{env}: {entry.get('status')} {done}/{len(STEPS)} {step}")
    return f"{record['name']} {record['status']}  " + "  ".join(parts)


def _failure_text(record: dict[str, Any]) -> str:
    return f"{record.get('failure_code')}: {record.get('failure_message')}"


def cmd_vend(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from workflows.vending import stream_store, submit

    try:
        data = json.loads(Path(args.file).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise RequestInvalid(
            args.file, [{"path": "", "message": f"not readable JSON: {exc}"}]
        ) from exc
    settings = _settings(session)
    submission = submit(session, config, settings, data, requested_by=args.requested_by, ops=True)
    record = submission.record
    verb = "started" if submission.created else "already known"
    print(f"{record['name']}: {verb}, execution {record.get('execution_arn')}", flush=True)
    if not args.wait:
        return 0
    streams = stream_store(session, settings)
    last = ""
    while record["status"] not in _TERMINAL:
        time.sleep(args.poll)
        record = streams.require(record["name"])
        line = _progress_line(record)
        if line != last:
            print(line, flush=True)
            last = line
    if record["status"] != "SUCCEEDED":
        print(f"{record['name']} {record['status']}: {_failure_text(record)}", file=sys.stderr)
        return 1
    print(f"{record['name']} SUCCEEDED", flush=True)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from workflows.vending import stream_store

    streams = stream_store(session, Settings.from_env())
    records = (
        [streams.require(args.name)]
        if args.name
        else sorted(streams.all(), key=lambda r: r["name"])
    )
    for record in records:
        print(_progress_line(record))
        if record.get("failure_code"):
            print(f"  {_failure_text(record)}")
    if not records:
        print("no streams yet")
    return 0


def cmd_deploy(args: argparse.Namespace) -> int:
    from orgvend.deploy import deploy

    parameters = {}
    for pair in args.parameter or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OrgvendError(f"--parameter {pair!r} must be KEY=VALUE")
        parameters[key] = value
    return deploy(
        boto3.Session(),
        stack_name=args.stack_name,
        bucket=args.bucket,
        dry_run=args.dry_run,
        project_root=Path(__file__).resolve().parents[1],
        progress=lambda line: print(line, flush=True),
        parameters=parameters,
    )


def cmd_serve(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from api.app import create_app
    from api.auth import TokenFile
    from api.serve import serve

    settings = _settings(session)
    if not settings.tokens_file:
        raise OrgvendError("Set ORGVEND_TOKENS_FILE to the bearer-token file the API checks.")
    app = create_app(
        session=session, config=config, settings=settings, roles=TokenFile(settings.tokens_file)
    )
    serve(app, host=args.host, port=args.port)
    return 0


def _until_signalled() -> threading.Event:
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def cmd_worker(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    session = _session(config)
    from bootstrap.provisioning import StepTools
    from workflows.worker import Worker

    settings = _settings(session)
    tables = settings.tables
    tools = StepTools.from_tables(
        session, config, streams=tables.streams, links=tables.links, cidrs=tables.cidrs
    )
    worker = Worker(
        tools,
        queue_url=settings.step_queue_url,
        concurrency=args.concurrency,
        visibility_seconds=args.visibility_seconds,
    )
    print(f"worker: {args.concurrency} slot(s) on {settings.step_queue_url}", flush=True)
    worker.run(_until_signalled())
    return 0


def cmd_sandbox(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    from orgvend.sandbox import Sandbox

    sandbox = Sandbox(
        config=config,
        settings=Settings.from_env().with_(config_path=str(args.config)),
        aws_port=args.aws_port,
        create_seconds=args.create_seconds,
        workers=args.workers,
        state_dir=Path(args.state) if args.state else None,
        api_port=None if args.no_api else args.port,
        progress=_print_change if args.verbose else None,
    )
    started = time.monotonic()
    stop = _until_signalled()
    sandbox.start()
    _print_sandbox(sandbox, time.monotonic() - started)
    stop.wait()
    print("stopping the sandbox ...", flush=True)
    sandbox.stop()
    return 0


def _print_sandbox(sandbox: Any, seconds: float) -> None:
    zone, emulator, settings = sandbox.zone, sandbox.emulator, sandbox.settings
    print(f"\norgvend sandbox is up ({seconds:.1f} s). Emulated AWS, on this machine only:")
    print(f"  AWS_ENDPOINT_URL={emulator.endpoint}")
    for kind, account_id in sorted(zone.accounts.items()):
        print(f"  account {kind:<11} {account_id}")
    print(f"  state machine  {settings.state_machine_arn}")
    print(f"  step queue     {settings.step_queue_url}")
    if sandbox.api_url:
        print(f"\n  dashboard      {sandbox.api_url}/")
        for role, token in sorted(sandbox.tokens.items()):
            print(f"  {role:<9} token  {token}")
        if sandbox.tokens:
            print(f"  (hashes in {settings.tokens_file}, mode 0600)")
        else:
            print(f"  tokens from ORGVEND_TOKENS_FILE={settings.tokens_file}")
    print("\nIn another shell:")
    print(
        f"  export AWS_ENDPOINT_URL={emulator.endpoint} AWS_ACCESS_KEY_ID=sandbox "
        f"AWS_SECRET_ACCESS_KEY=sandbox AWS_DEFAULT_REGION={settings.region}"
    )
    print("  aws --endpoint-url $AWS_ENDPOINT_URL organizations list-accounts")
    print("  .venv/bin/orgvend links --format aws-config")
    print("  .venv/bin/orgvend vend examples/stream-payments.json --wait")
    print("\nCtrl-C stops it.", flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="orgvend", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log every change and step")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text)
        p.add_argument(
            "--config",
            default=Settings.from_env().config_path,
            help="org config file (default: $ORGVEND_CONFIG or examples/org.yaml)",
        )
        return p

    p = add("sandbox", "emulated AWS with the landing zone, workflow, workers and API")
    p.add_argument("--aws-port", type=int, default=4566)
    p.add_argument("--workers", type=int, default=4)
    p.add_argument(
        "--create-seconds", type=float, default=0.5, help="how long CreateAccount stays IN_PROGRESS"
    )
    p.add_argument("--state", help="directory that keeps the emulated organisation across restarts")
    p.add_argument("--port", type=int, default=8000, help="API and dashboard port on 127.0.0.1")
    p.add_argument("--no-api", action="store_true", help="do not serve the API and dashboard")
    p.set_defaults(func=cmd_sandbox)

    p = add("bootstrap", "ensure the landing zone (prints the plan, then applies it)")
    p.add_argument("--dry-run", action="store_true", help="print the plan only")
    p.set_defaults(func=cmd_bootstrap)

    p = add("vend", "validate a stream request and start vending it (ops: no approval)")
    p.add_argument("file")
    p.add_argument("--wait", action="store_true", help="show progress until the stream ends")
    p.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    p.add_argument("--requested-by", default="ops (cli)")
    p.set_defaults(func=cmd_vend)

    p = add("status", "show streams and their accounts")
    p.add_argument("name", nargs="?")
    p.set_defaults(func=cmd_status)

    p = add("worker", "run worker steps from the step queue")
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument(
        "--visibility-seconds",
        type=int,
        default=30,
        help="how long a message in hand stays hidden between heartbeats (redelivery delay)",
    )
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("deploy", help="build, upload and deploy infra/template.yaml")
    p.add_argument("--stack-name", required=True)
    p.add_argument("--bucket", required=True, help="S3 bucket for the Lambda bundle and ASL")
    p.add_argument("--dry-run", action="store_true", help="print the change set only")
    p.add_argument("--parameter", action="append", metavar="KEY=VALUE", help="a template parameter")
    p.set_defaults(func=cmd_deploy)

    p = add("serve", "serve the API and dashboard (tokens from ORGVEND_TOKENS_FILE)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.set_defaults(func=cmd_serve)

    p = add("links", "export the switch-role link catalogue")
    p.add_argument("--format", choices=("json", "csv", "aws-config", "aesr"), default="json")
    p.add_argument("--user", help="IAM user name in the users account (for mfa_serial)")
    p.add_argument("--stream", help="only this stream's accounts")
    p.set_defaults(func=cmd_links)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(name)s %(message)s",
    )
    try:
        return int(args.func(args))
    except OrgvendError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        for issue in getattr(exc, "errors", []):
            print(f"  {issue['path'] or '/'}: {issue['message']}", file=sys.stderr)
        print(f"  {exc.advice}", file=sys.stderr)
        return 2
    except (EndpointConnectionError, NoCredentialsError, NoRegionError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        print(
            "  Is the sandbox running (`make run`) and AWS_ENDPOINT_URL set, or are AWS "
            "credentials and a region configured?",
            file=sys.stderr,
        )
        return 2
    except ClientError as exc:
        print(f"error: AWS refused a call: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
