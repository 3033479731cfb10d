"""Every audit event the reconciler produces validates against its published JSON Schema."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from spec_builders import allow, spec
from support.wire import Fault
from support.world import ROOT, World

from kops_iam.application import handler
from kops_iam.aws.audit import MAX_ENTRY_BYTES, DetailType, entry_size

SCHEMAS = ROOT / "schemas"


def schema_for(detail_type: str) -> dict[str, Any]:
    slug = re.sub(r"\s+", "-", detail_type.lower())
    schema: dict[str, Any] = json.loads((SCHEMAS / f"{slug}.json").read_text())
    return schema


def assert_valid(event: dict[str, Any]) -> None:
    validator = Draft202012Validator(schema_for(event["detail-type"]))
    errors = sorted(validator.iter_errors(event), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    assert entry_size(event["detail-type"], event["detail"], event["resources"]) <= MAX_ENTRY_BYTES


@pytest.mark.parametrize("detail_type", DetailType.ALL)
def test_each_detail_type_has_a_valid_schema(detail_type: str) -> None:
    schema = schema_for(detail_type)
    Draft202012Validator.check_schema(schema)
    assert schema["properties"]["detail-type"] == {"const": detail_type}


@pytest.mark.usefixtures("no_backoff_sleep")
def test_events_of_every_outcome_match_their_schema(world: World) -> None:
    cluster = "s.k8s.example.com"
    seen: list[dict[str, Any]] = []

    # applied, unchanged, edited, rejected (invalid, mismatch), drift, planned, deleted
    world.upload(cluster, spec(cluster, additional={"node": [allow("s3:GetObject")]}, bastion=True))
    world.deliver()
    world.upload(cluster, spec(cluster, additional={"node": [allow("s3:GetObject")]}, bastion=True))
    world.deliver()
    world.upload(cluster, spec(cluster, additional={"node": [allow("s3:PutObject")]}))
    world.deliver()
    world.upload(cluster, "spec: [unclosed")
    world.deliver()
    world.upload(cluster, spec("other.k8s.example.com"))
    world.deliver()
    world.upload(cluster, spec(cluster))
    world.deliver()
    world.iam.delete_role_policy(RoleName=f"nodes.{cluster}", PolicyName=f"nodes.{cluster}")
    seen.extend(world.audit())
    seen.extend(world.drift_run().audit)  # the schedule queues the checks, a worker drains them
    world.upload(cluster, spec(cluster, labels={"team": "x"}))
    world.deliver(world.runtime(world.with_settings(mode="plan")))
    world.delete(cluster)
    world.deliver()
    seen.extend(world.audit())

    # apply failed
    world.upload(cluster, spec(cluster))
    failing = Fault.persistent("iam:CreateRole", status=500, code="ServiceFailure")
    with world.wire.faulted(failing), pytest.raises(handler.ReconcileFailed):
        world.deliver()
    seen.extend(world.audit())

    assert {e["detail-type"] for e in seen} == set(DetailType.ALL)
    for event in seen:
        assert_valid(event)


def test_a_rejection_with_thousands_of_errors_is_truncated_to_fit(world: World) -> None:
    # Given a spec with thousands of invalid statements (each one an error)
    cluster = "big.k8s.example.com"
    bad = [{"Effect": "Permit", "Action": ["s3:GetObject"], "Resource": ["*"]}] * 1000
    world.upload(cluster, spec(cluster, additional={"node": bad, "master": bad, "bastion": bad}))

    # When it is handled
    outcome = world.reconciler().reconcile_key(f"{cluster}/config")

    # Then the rejection fits EventBridge's entry limit, says it was truncated, and
    # still matches its schema
    [event] = world.audit()
    assert outcome.detail_type == DetailType.SPEC_REJECTED
    assert event["detail"]["truncated"] is True
    assert any("truncated" in str(e) for e in event["detail"]["errors"])
    assert 50 < len(event["detail"]["errors"]) < 3000
    assert_valid(event)


def test_every_rejection_reason_is_in_the_schema() -> None:
    # Given the reasons a conflict with IAM's state can be rejected for (docs/adr/0060, 0061)
    from kops_iam.aws.iam_diff import CONFLICT_PRECEDENCE

    schema = schema_for(DetailType.SPEC_REJECTED)
    reasons = schema["properties"]["detail"]["properties"]["reason"]["enum"]
    # Then the schema lists each of them, besides the spec's own
    assert set(reasons) == {"invalid-spec", "cluster-mismatch", "too-large", *CONFLICT_PRECEDENCE}


def test_a_name_collision_rejection_matches_its_schema(world: World) -> None:
    from collisions import colliding_pair

    owner, other = colliding_pair("node")
    for cluster in (owner, other):
        world.upload(cluster, spec(cluster))
        world.deliver()
    events = world.audit()
    assert [e["detail"].get("reason") for e in events] == [None, "name-collision"]
    for event in events:
        assert_valid(event)
