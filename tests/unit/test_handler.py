"""The Lambda entry point: light to import, one runtime per container, safe on odd events."""

from __future__ import annotations

import json
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
