"""The Lambda entry point: light to import, one runtime per container, safe on odd events."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import boto3

from kops_iam.application import handler
from kops_iam.application.settings import Env, Settings

HEAVY = (
    "pydantic",
    "yaml",
    "aws_xray_sdk",
    "kops_iam.domain.pipeline",
    "kops_iam.domain.catalogue",
    "kops_iam.domain.spec",
)


def test_importing_the_handler_leaves_heavy_modules_for_later() -> None:
    # When the handler module is imported in a fresh interpreter (a cold start)
    code = (
        "import sys, json, kops_iam.application.handler; "
        f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )

    # Then none of the heavy modules was loaded
    assert json.loads(result.stdout) == []


#: A fresh interpreter handles an S3 event from EventBridge (moto in-process) as a cold
#: container's first event, then reports what that event loaded and built.
_FIRST_S3_EVENT = """
import json, os, sys
from pathlib import Path
import boto3, moto
with moto.mock_aws():
    boto3.client("s3").create_bucket(Bucket="specs")
    boto3.client("s3").put_object(
        Bucket="specs", Key="c.example.com/config", Body=Path(sys.argv[1]).read_bytes()
    )
    boto3.client("events").create_event_bus(Name="kops-iam-audit")
    from kops_iam.application import handler
    from kops_iam.aws import events
    runtime = handler.build_runtime(os.environ, account_id="123456789012")
    event = {
        "version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
        "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
        "resources": [],
        "detail": {"bucket": {"name": "specs"}, "object": {"key": "c.example.com/config"}},
    }
    calls = []
    runtime.reconciler.iam.meta.events.register(
        "before-call.iam", lambda model, **_: calls.append(model.name)
    )
    summary = handler.handle(event, None, runtime)
    import pydantic.plugin._loader as plugins
    from aws_lambda_powertools.utilities.parser.functions import CACHE_TYPE_ADAPTER
    models = events._models()
    names = ("Records", "S3EventBridge", "Scheduled")
    adapted = [getattr(a, "_type", None) for a in CACHE_TYPE_ADAPTER.values()]
    print(json.dumps({
        "applied": [o["detailType"] for o in summary["outcomes"]],
        # A deferred model is built as a class, or as the adapter Powertools caches for it.
        "built": [n for n in names if getattr(models, n) in adapted],
        "classes built": [n for n in names if getattr(models, n).__pydantic_complete__],
        "plugins scanned": plugins._plugins is not None,
        "iam reads": [c for c in calls if c.startswith(("Get", "List"))],
    }))
"""


def test_an_s3_events_cold_path_builds_and_loads_only_what_it_needs(tmp_path: Any) -> None:
    # Given a fresh interpreter with the stack's environment (docs/adr/0118)
    spec = tmp_path / "config"
    spec.write_text(
        "apiVersion: kops.k8s.io/v1alpha2\nkind: Cluster\nmetadata:\n  name: c.example.com\n"
        "spec:\n  cloudProvider: aws\n  configBase: s3://state/c.example.com\n"
        "  networkCIDR: 10.0.0.0/16\n  subnets:\n  - name: us-east-1a\n    zone: us-east-1a\n"
    )
    env = dict(os.environ)
    env.update(
        {
            Env.SPECS_BUCKET: "specs",
            Env.AUDIT_BUS_NAME: "kops-iam-audit",
            Env.SNAPSHOT_BUCKET: "snapshots",  # as the stack: the drift snapshot's bucket
            "AWS_REGION": "us-east-1",
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
    )

    # When it handles an S3 event from EventBridge as its first event
    result = subprocess.run(
        [sys.executable, "-c", _FIRST_S3_EVENT, str(spec)],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])

    # Then the spec was applied, and only the event model it needed was built
    assert report["applied"] == ["Spec Applied"]
    assert report["built"] == ["S3EventBridge"]
    assert report["classes built"] == []
    # And pydantic did not scan for plugins
    assert report["plugins scanned"] is False
    # And IAM was read in one bulk page, plus each wanted instance profile the page could
    # not show (the roles did not exist yet: docs/adr/0121)
    assert report["iam reads"] == [
        "GetAccountAuthorizationDetails",
        "GetInstanceProfile",
        "GetInstanceProfile",
    ]


def test_the_container_builds_its_runtime_once() -> None:
    built: list[str | None] = []

    def factory(environ: Any, *, account_id: str | None = None) -> Any:
        built.append(account_id)
        return object()

    container = handler.Container(environ={}, factory=factory)
    first = container.runtime("111111111111")
    assert container.runtime("222222222222") is first
    assert built == ["111111111111"]
    container.install(None)
    container.runtime("3")
    assert built == ["111111111111", "3"]


def test_build_runtime_configures_clients_from_settings() -> None:
    session = boto3.session.Session(region_name="eu-west-1")
    runtime = handler.build_runtime(
        {Env.SPECS_BUCKET: "specs", "AWS_MAX_ATTEMPTS": "7"},
        account_id="123456789012",
        session=session,
    )
    assert runtime.settings.bucket == "specs"
    assert runtime.settings.options.account_id == "123456789012"
    iam = runtime.reconciler.iam
    assert iam.meta.config.retries["total_max_attempts"] == 7  # type: ignore[index]
    # IAM's request rate is the account's: its client slows itself down once throttled
    assert iam.meta.config.retries["mode"] == "adaptive"  # type: ignore[index]
    s3 = runtime.reconciler.source.client  # type: ignore[union-attr]
    assert s3.meta.config.retries["mode"] == "standard"  # type: ignore[index]
    assert runtime.reconciler.kms is not None
    assert runtime.reconciler.kms.regions == ()  # made only if a spec names a KMS alias
    assert runtime._sqs == []  # made only for a drift run or a drift batch


def test_an_unsupported_event_is_logged_and_not_retried() -> None:
    runtime = handler.Runtime(settings=Settings(), reconciler=None)  # type: ignore[arg-type]
    result = handler.handle({"hello": "world"}, None, runtime)
    assert result["outcomes"] == [] and "neither" in result["ignored"][0]


def test_the_account_comes_from_the_function_arn() -> None:
    class Context:
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:f"

    assert handler._account_id(Context()) == "123456789012"
    assert handler._account_id(object()) is None
