"""``orgvend deploy``: build the Lambda bundle, upload it, and roll out ``infra/template.yaml``.

The bundle is the project's own packages plus its runtime dependencies, vendored for the Lambda
runtime (boto3 and botocore are left to the runtime, which ships them). It is content-addressed
and zipped byte-for-byte reproducibly, so an unchanged project uploads nothing new and
CloudFormation's change set comes back empty: the deploy then says "no changes" and removes
the empty change set. Every change is shown before it is executed, and ``dry_run`` stops there.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError, WaiterError

from bootstrap.aws import client, error_code

__all__ = [
    "BUNDLED_PACKAGES",
    "LAMBDA_PLATFORM",
    "build_bundle",
    "deploy",
    "pip_install",
    "runtime_requirements",
]

BUNDLED_PACKAGES = ("bootstrap", "workflows", "api", "schemas")
"""The project's folders the Lambda functions import (``schemas`` holds JSON files only)."""
LAMBDA_PLATFORM = ("manylinux2014_x86_64", "3.11")
"""Wheels for the functions' ``Architectures: [x86_64]`` and ``Runtime: python3.11``."""
_RUNTIME_PROVIDED = {"boto3", "botocore"}
_NO_CHANGES = ("didn't contain changes", "No updates are to be performed")
_EPOCH = (1980, 1, 1, 0, 0, 0)

Progress = Callable[[str], None]
Installer = Callable[[list[str], Path], None]


def runtime_requirements(project_root: Path) -> list[str]:
    """``[project].dependencies`` of pyproject.toml, less what the Lambda runtime provides."""
    data = tomllib.loads((project_root / "pyproject.toml").read_text(encoding="utf-8"))
    wanted = []
    for requirement in data["project"]["dependencies"]:
        name = requirement.split(";")[0]
        for mark in "<>=!~[ ":
            name = name.split(mark)[0]
        if name.lower() not in _RUNTIME_PROVIDED:
            wanted.append(requirement)
    return wanted


def pip_install(requirements: list[str], target: Path) -> None:
    """Install binary wheels for the Lambda platform, whatever machine builds the bundle."""
    platform, python = LAMBDA_PLATFORM
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    command += ["--no-compile", "--only-binary=:all:", "--implementation", "cp"]
    command += ["--platform", platform, "--python-version", python, "--target", str(target)]
    subprocess.run([*command, *requirements], check=True)


def _files(root: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if path.is_file() and "__pycache__" not in relative.parts and path.suffix != ".pyc":
            yield relative.as_posix(), path


def _add(archive: zipfile.ZipFile, name: str, path: Path) -> None:
    info = zipfile.ZipInfo(name, date_time=_EPOCH)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes())


def build_bundle(project_root: Path, *, install: Installer = pip_install) -> bytes:
    """The Lambda zip: dependencies at the top level, then the project's packages."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory(prefix="orgvend-bundle-") as tmp:
        target = Path(tmp)
        install(runtime_requirements(project_root), target)
        entries = dict(_files(target))
        for package in BUNDLED_PACKAGES:
            entries.update({f"{package}/{n}": p for n, p in _files(project_root / package)})
        with zipfile.ZipFile(buffer, "w") as archive:
            for name in sorted(entries):
                _add(archive, name, entries[name])
    return buffer.getvalue()


def _upload(s3: Any, bucket: str, key: str, body: bytes, progress: Progress) -> None:
    try:
        s3.head_object(Bucket=bucket, Key=key)
        progress(f"s3://{bucket}/{key} already uploaded")
        return
    except ClientError as exc:
        if error_code(exc) not in ("404", "NoSuchKey", "NotFound"):
            raise
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    progress(f"uploaded s3://{bucket}/{key} ({len(body)} bytes)")


def _stack(cfn: Any, stack_name: str) -> dict[str, Any] | None:
    try:
        return dict(cfn.describe_stacks(StackName=stack_name)["Stacks"][0])
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise


def _parameters(stack: dict[str, Any] | None, given: Mapping[str, str]) -> list[dict[str, Any]]:
    """The given values; on an update every other parameter keeps its previous value."""
    values: list[dict[str, Any]] = [
        {"ParameterKey": k, "ParameterValue": v} for k, v in sorted(given.items())
    ]
    for parameter in (stack or {}).get("Parameters", []):
        if parameter["ParameterKey"] not in given:
            values.append({"ParameterKey": parameter["ParameterKey"], "UsePreviousValue": True})
    return values


def _describe_change(change: dict[str, Any]) -> str:
    resource = change["ResourceChange"]
    line = f"  {resource['Action']:<8} {resource['LogicalResourceId']} ({resource['ResourceType']})"
    if resource.get("Replacement") in ("True", "Conditional"):
        line += f" replacement: {resource['Replacement']}"
    return line


def _await_change_set(cfn: Any, stack_name: str, change_set: str) -> dict[str, Any]:
    # FAILED is an answer too (an empty change set fails); the description below says why.
    with contextlib.suppress(WaiterError):
        cfn.get_waiter("change_set_create_complete").wait(
            StackName=stack_name, ChangeSetName=change_set, WaiterConfig={"Delay": 5}
        )
    pages = cfn.get_paginator("describe_change_set").paginate(
        StackName=stack_name, ChangeSetName=change_set
    )
    described: dict[str, Any] = {}
    changes: list[dict[str, Any]] = []
    for page in pages:
        described = described or dict(page)
        changes += page.get("Changes", [])
    return {**described, "Changes": changes}


def _execute(cfn: Any, stack_name: str, change_set: str, creating: bool, progress: Progress) -> int:
    cfn.execute_change_set(StackName=stack_name, ChangeSetName=change_set)
    waiter = "stack_create_complete" if creating else "stack_update_complete"
    try:
        cfn.get_waiter(waiter).wait(StackName=stack_name, WaiterConfig={"Delay": 10})
    except WaiterError:
        for event in cfn.describe_stack_events(StackName=stack_name)["StackEvents"][:20]:
            if event["ResourceStatus"].endswith("_FAILED"):
                reason = event.get("ResourceStatusReason", "")
                progress(f"  {event['LogicalResourceId']}: {event['ResourceStatus']} {reason}")
        progress(f"stack {stack_name} did not reach {waiter.split('_')[1]}_COMPLETE")
        return 1
    stack = _stack(cfn, stack_name) or {}
    progress(f"stack {stack_name}: {stack.get('StackStatus')}")
    for output in stack.get("Outputs", []):
        progress(f"  {output['OutputKey']} = {output['OutputValue']}")
    return 0


def _content_key(prefix: str, body: bytes, suffix: str) -> str:
    return f"orgvend/{prefix}-{hashlib.sha256(body).hexdigest()[:20]}{suffix}"


def deploy(
    session: boto3.Session,
    *,
    stack_name: str,
    bucket: str,
    dry_run: bool,
    project_root: Path,
    progress: Progress,
    parameters: Mapping[str, str] | None = None,
    build: Callable[[Path], bytes] = build_bundle,
) -> int:
    """Build, upload, show the change set, and execute it unless ``dry_run``; an exit code."""
    progress("building the Lambda bundle")
    bundle = build(project_root)
    definition = (project_root / "workflows" / "stream_vending.asl.json").read_bytes()
    s3 = client(session, "s3")
    bundle_key = _content_key("bundle", bundle, ".zip")
    definition_key = _content_key("stream-vending", definition, ".asl.json")
    _upload(s3, bucket, bundle_key, bundle, progress)
    _upload(s3, bucket, definition_key, definition, progress)
    release = {"BundleBucket": bucket, "BundleKey": bundle_key, "DefinitionKey": definition_key}
    cfn = client(session, "cloudformation")
    stack = _stack(cfn, stack_name)
    creating = stack is None or stack["StackStatus"] == "REVIEW_IN_PROGRESS"
    if stack is not None and stack["StackStatus"] == "ROLLBACK_COMPLETE":
        progress(f"stack {stack_name} is ROLLBACK_COMPLETE: delete it, then deploy again")
        return 1
    change_set = f"orgvend-{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}"
    try:
        cfn.create_change_set(
            StackName=stack_name,
            ChangeSetName=change_set,
            TemplateBody=(project_root / "infra" / "template.yaml").read_text(encoding="utf-8"),
            Parameters=_parameters(None if creating else stack, {**(parameters or {}), **release}),
            Capabilities=["CAPABILITY_NAMED_IAM"],
            ChangeSetType="CREATE" if creating else "UPDATE",
        )
    except ClientError as exc:
        if not any(marker in str(exc) for marker in _NO_CHANGES):
            raise
        progress(f"no changes: stack {stack_name} is up to date")
        return 0
    described = _await_change_set(cfn, stack_name, change_set)
    return _conclude(cfn, stack_name, change_set, described, creating, dry_run, progress)


def _conclude(
    cfn: Any,
    stack_name: str,
    change_set: str,
    described: dict[str, Any],
    creating: bool,
    dry_run: bool,
    progress: Progress,
) -> int:
    reason = str(described.get("StatusReason") or "")
    if described["Status"] == "FAILED":
        if any(marker in reason for marker in _NO_CHANGES):
            progress(f"no changes: stack {stack_name} is up to date")
            cfn.delete_change_set(StackName=stack_name, ChangeSetName=change_set)
            return 0
        progress(f"change set {change_set} failed: {reason}")
        return 1
    progress(f"change set {change_set} for stack {stack_name}:")
    for change in described.get("Changes", []):
        progress(_describe_change(change))
    if dry_run:
        progress(f"dry run: change set {change_set} left for review, not executed")
        return 0
    return _execute(cfn, stack_name, change_set, creating, progress)
