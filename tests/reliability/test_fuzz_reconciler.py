"""Hostile input through the whole function: S3 object -> handler -> IAM (moto).

Property, for every mutated spec uploaded to its key: a rejected spec (``Spec Rejected``)
made zero IAM writes and did not fail the invocation; an applied one left IAM exactly as
the same bytes plan (roles, policies, tags, boundary); an ``Apply Failed`` is allowed only
for an AWS-side reason the core cannot know offline (a managed policy that does not
exist), never because IAM refused a policy the core accepted. Nothing raises but
``ReconcileFailed``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import rel_scenarios
import rel_strategies
import rel_support
import support.world as W
from hypothesis import given, settings

from kops_iam.application.handler import ReconcileFailed
from kops_iam.aws.audit import DetailType
from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.parsing import parse_document

PART = "hostile_input"
PROFILE = "reliability-long" if rel_support.LONG else "reliability-fast"
CASES = rel_support.budget(25, 500)
#: Apply Failed causes that only live AWS can reveal (the offline core cannot know them).
AWS_SIDE = {"NoSuchEntity"}


pytestmark = pytest.mark.usefixtures("no_backoff_sleep")


@pytest.fixture(scope="module")
def world(quiet_kops_iam_logs: None) -> Iterator[W.World]:
    with rel_scenarios.world() as world:
        for name in ("staging-node-extras",):
            world.inspect_iam.create_policy(
                PolicyName=name,
                PolicyDocument=json.dumps(
                    {
                        "Version": "2012-10-17",
                        "Statement": [
                            {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                        ],
                    }
                ),
            )
        yield world


def _cluster_of(case: rel_strategies.Case) -> str:
    doc = rel_strategies.SAMPLES[case.sample]
    return str(doc["metadata"]["name"])


@settings(settings.get_profile(PROFILE), max_examples=CASES)
@given(case=rel_strategies.hostile_specs())
def test_hostile_specs_through_the_function_write_nothing_or_exactly_the_plan(
    world: W.World, case: rel_strategies.Case
) -> None:
    cluster = _cluster_of(case)
    version = world.upload_version(cluster, case.data)
    invocation = world.invoke(W.object_event(world.key(cluster), version))
    kinds = [e["detail-type"] for e in invocation.audit]
    rel_support.record(PART, "through_function.tried")
    assert invocation.raised is None or isinstance(invocation.raised, ReconcileFailed), (
        invocation.raised
    )
    assert len(kinds) == 1, kinds
    [event] = invocation.audit
    kind = event["detail-type"]
    if kind == DetailType.SPEC_REJECTED:
        rel_support.record(PART, "through_function.rejected")
        assert invocation.applied == [], f"a rejected spec wrote {invocation.applied}"
        assert invocation.raised is None, invocation.raised
        errors = [e for e in event["detail"]["errors"] if isinstance(e, dict)]
        markers = [e for e in event["detail"]["errors"] if not isinstance(e, dict)]
        assert not markers or event["detail"]["truncated"], markers  # cut to fit 256 KB
        assert errors and all(e["message"] for e in errors), errors
        try:
            parse_document(case.data)
        except SpecInvalid:
            return  # unreadable as a document: whole-file errors have an empty path
        assert all(e["path"] for e in errors), errors
        return
    if kind == DetailType.APPLY_FAILED:
        error = event["detail"]["error"]
        code = error["code"]
        rel_support.record(PART, f"through_function.apply_failed.{code}")
        assert code in AWS_SIDE, f"IAM refused what the core accepted: {error}"
        return
    assert kind in (DetailType.SPEC_APPLIED, DetailType.SPEC_UNCHANGED), kind
    rel_support.record(PART, "through_function.applied")
    # Then IAM holds exactly the plan of these bytes
    expected = world.runtime().reconciler.plan_document(case.data)
    iam = world.inspect_iam
    for role in expected.roles.values():
        names = iam.list_role_policies(RoleName=role.role_name)["PolicyNames"]
        assert sorted(names) == sorted(role.inline_policies), (role.role_name, names)
        for name, document in role.inline_policies.items():
            live = iam.get_role_policy(RoleName=role.role_name, PolicyName=name)["PolicyDocument"]
            assert live == json.loads(json.dumps(document)), (role.role_name, name)
        tags = {
            t["Key"]: t["Value"]
            for t in iam.get_role(RoleName=role.role_name)["Role"].get("Tags", [])
        }
        assert tags == dict(role.tags), role.role_name
