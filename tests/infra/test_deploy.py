"""``orgvend deploy`` against the emulator: bundle upload, change set, execute, no-change rerun."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import boto3
import pytest

from orgvend.deploy import build_bundle, deploy, runtime_requirements

ROOT = Path(__file__).resolve().parents[2]
BUCKET = "orgvend-releases"
PARAMETERS = {"OrganizationId": "o-exampleorg01", "UsersAccountId": "111111111111"}
TINY_TEMPLATE = """
AWSTemplateFormatVersion: "2010-09-09"
Parameters:
  BundleBucket: {Type: String}
  BundleKey: {Type: String}
  DefinitionKey: {Type: String}
  QueueName: {Type: String, Default: orgvend-tiny}
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties:
      QueueName: !Ref QueueName
      Tags: [{Key: bundle, Value: !Ref BundleKey}]
Outputs:
  QueueUrl: {Value: !Ref Queue}
"""


def _stub_bundle(project_root: Path) -> bytes:
    return b"stub bundle of " + project_root.name.encode()


@pytest.fixture
def bucket(aws: boto3.Session) -> str:
    aws.client("s3").create_bucket(
        Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-2"}
    )
    return BUCKET


@pytest.fixture
def tiny_project(tmp_path: Path) -> Path:
    (tmp_path / "infra").mkdir()
    (tmp_path / "infra" / "template.yaml").write_text(TINY_TEMPLATE)
    (tmp_path / "workflows").mkdir()
    shutil.copy(ROOT / "workflows" / "stream_vending.asl.json", tmp_path / "workflows")
    return tmp_path


def test_deploy_dry_run_prints_change_set_without_creating(aws: boto3.Session, bucket: str) -> None:
    lines: list[str] = []
    code = deploy(
        aws,
        stack_name="orgvend",
        bucket=bucket,
        dry_run=True,
        project_root=ROOT,
        progress=lines.append,
        parameters=PARAMETERS,
        build=_stub_bundle,
    )
    assert code == 0
    text = "\n".join(lines)
    for resource in ("StateMachine", "WorkerFunction", "StreamsTable", "StepQueue", "RestApi"):
        assert f" {resource} (" in text
    keys = [o["Key"] for o in aws.client("s3").list_objects_v2(Bucket=bucket)["Contents"]]
    assert any(k.endswith(".zip") for k in keys) and any(k.endswith(".asl.json") for k in keys)
    cfn = aws.client("cloudformation")
    assert cfn.describe_stacks(StackName="orgvend")["Stacks"][0]["StackStatus"] == (
        "REVIEW_IN_PROGRESS"
    )
    summaries = cfn.list_change_sets(StackName="orgvend")["Summaries"]
    assert [s["ExecutionStatus"] for s in summaries] == ["AVAILABLE"]
    assert aws.client("sqs").list_queues().get("QueueUrls", []) == []


def test_deploy_executes_then_rerun_reports_no_changes(
    aws: boto3.Session, bucket: str, tiny_project: Path
) -> None:
    first: list[str] = []
    options = {"stack_name": "tiny", "bucket": bucket, "project_root": tiny_project}
    assert deploy(aws, dry_run=False, progress=first.append, build=_stub_bundle, **options) == 0
    assert aws.client("sqs").get_queue_url(QueueName="orgvend-tiny")["QueueUrl"]
    assert "stack tiny: CREATE_COMPLETE" in first
    again: list[str] = []
    assert deploy(aws, dry_run=False, progress=again.append, build=_stub_bundle, **options) == 0
    assert any(line.startswith("no changes") for line in again)
    assert any("already uploaded" in line for line in again)
    summaries = aws.client("cloudformation").list_change_sets(StackName="tiny")["Summaries"]
    assert [s["ExecutionStatus"] for s in summaries] == ["EXECUTE_COMPLETE"]


def test_deploy_update_keeps_previous_parameters(
    aws: boto3.Session, bucket: str, tiny_project: Path
) -> None:
    options = {"stack_name": "tiny", "bucket": bucket, "project_root": tiny_project}
    given = {"QueueName": "orgvend-renamed"}
    assert (
        deploy(aws, dry_run=False, progress=print, parameters=given, build=_stub_bundle, **options)
        == 0
    )
    changed = lambda root: b"a new bundle"  # noqa: E731
    assert deploy(aws, dry_run=False, progress=print, build=changed, **options) == 0
    stack = aws.client("cloudformation").describe_stacks(StackName="tiny")["Stacks"][0]
    values = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert values["QueueName"] == "orgvend-renamed"
    assert values["BundleKey"].endswith(".zip")


def test_build_bundle_vendors_dependencies_but_not_boto3() -> None:
    installed: list[list[str]] = []

    def fake_install(requirements: list[str], target: Path) -> None:
        installed.append(requirements)
        (target / "yaml").mkdir()
        (target / "yaml" / "__init__.py").write_text("")
        (target / "yaml" / "__pycache__").mkdir()
        (target / "yaml" / "__pycache__" / "x.pyc").write_bytes(b"")

    bundle = build_bundle(ROOT, install=fake_install)
    names = zipfile.ZipFile(io.BytesIO(bundle)).namelist()
    assert "yaml/__init__.py" in names
    assert not any("__pycache__" in n for n in names)
    for module in (
        "workflows/lambda_worker.py",
        "workflows/stream_vending.asl.json",
        "workflows/handlers/__init__.py",
        "bootstrap/store.py",
        "api/__init__.py",
        "schemas/stream-request.schema.json",
    ):
        assert module in names
    assert not any(r.startswith(("boto3", "botocore")) for r in installed[0])
    assert installed[0] == runtime_requirements(ROOT)
    assert build_bundle(ROOT, install=fake_install) == bundle
