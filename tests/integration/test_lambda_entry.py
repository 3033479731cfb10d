"""The Lambda entry point itself: environment, Powertools logs and metrics."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any, cast

import pytest
from spec_builders import spec
from support.world import World, context

from kops_iam.application import handler
from kops_iam.application.settings import Env


@pytest.fixture
def fresh_container(world: World, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv(Env.SPECS_BUCKET, world.bucket)
    monkeypatch.setenv(Env.AUDIT_BUS_NAME, world.bus)
    handler.CONTAINER.install(None)
    yield
    handler.CONTAINER.install(None)


def test_the_entry_point_reconciles_logs_with_correlation_and_emits_metrics(
    world: World, fresh_container: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the function's log stream, a spec uploaded and its notification
    log_handler = cast(logging.StreamHandler[Any], handler.logger.registered_handler)
    stream = io.StringIO()
    previous = log_handler.setStream(stream)
    world.upload("entry.k8s.example.com", spec("entry.k8s.example.com"))
    [notification] = world.notifications()

    # When Lambda calls the entry point
    try:
        result = handler.lambda_handler(notification, context())
    finally:
        log_handler.setStream(previous)

    # Then the roles exist and the summary says Spec Applied
    assert result["outcomes"][0]["detailType"] == "Spec Applied"
    assert world.role_names() == {"masters.entry.k8s.example.com", "nodes.entry.k8s.example.com"}
    lines = [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines() + stream.getvalue().splitlines()
        if line.startswith("{")
    ]
    # And log lines carry the object as correlation id and the Lambda context
    logs = [line for line in lines if "level" in line]
    applied = next(line for line in logs if line["message"].startswith("Spec Applied"))
    assert applied["correlation_id"] == f"s3://{world.bucket}/entry.k8s.example.com/config"
    assert applied["cluster"] == "entry.k8s.example.com"
    assert applied["function_request_id"]
    # And the metrics (EMF) count the outcome and the IAM writes
    metrics = [line for line in lines if "_aws" in line]
    names = {
        m["Name"]
        for line in metrics
        for d in line["_aws"]["CloudWatchMetrics"]
        for m in d["Metrics"]
    }
    assert {"SpecApplied", "IamWrites"} <= names
    emitted = next(line for line in metrics if "SpecApplied" in line)
    assert emitted["SpecApplied"] == [1.0] and emitted["IamWrites"][0] > 0


def test_the_entry_point_reads_only_the_configured_bucket(
    world: World, fresh_container: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a deployment pointed at a bucket the function cannot read
    monkeypatch.setenv(Env.SPECS_BUCKET, "elsewhere")
    handler.CONTAINER.install(None)
    world.s3.create_bucket(Bucket="elsewhere")
    world.s3.put_object(Bucket="elsewhere", Key="x.k8s.example.com/config", Body=b"spec: [")
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "bucket": {"name": "elsewhere"},
                    "object": {"key": "x.k8s.example.com/config"},
                },
            }
        ]
    }
    # When the event names it, the object is reconciled (rejected as invalid), not an error
    result = handler.lambda_handler(event, context())
    assert result["outcomes"][0]["detailType"] == "Spec Rejected"
    # And an event for another bucket is ignored
    event["Records"][0]["s3"]["bucket"]["name"] = world.bucket
    assert handler.lambda_handler(event, context())["ignored"] == [
        f"s3://{world.bucket}/x.k8s.example.com/config"
    ]
