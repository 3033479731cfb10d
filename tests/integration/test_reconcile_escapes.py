"""The boundary escape of issue 10, through the deployed entry point on moto (docs/adr/0062).

With the operator's permissions boundary on every role (the README recommends it), a spec
granting its own role the means to remove or replace that boundary was ``Spec Applied``:
the role could then drop its own boundary. Now it is ``Spec Rejected`` and nothing is
written, as for ``iam:PutRolePolicy``; only the operator can approve such an action.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from spec_builders import allow, spec
from support.world import World, object_event

from kops_iam.aws.audit import DetailType

CLUSTER = "c1.k8s.example.com"


@pytest.mark.parametrize(
    "action",
    [
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
        "iam:*PermissionsBoundary",
    ],
)
def test_a_spec_cannot_let_its_role_drop_the_operators_boundary(world: World, action: str) -> None:
    # Given an operator boundary on every role
    boundary = world.managed_policy("kops-boundary")
    options = replace(world.settings.options, permissions_boundary=boundary)
    runtime = world.runtime(world.with_settings(options=options))
    # And a spec whose nodes may change any role's boundary (theirs included)
    body = spec(CLUSTER, boundary=boundary, additional={"node": [allow(action, sid="Escape")]})
    version = world.upload_version(CLUSTER, body)
    world.calls.clear()

    # When lambda_handler receives its S3 event
    world.entry(object_event(world.key(CLUSTER), version), runtime)

    # Then it is rejected by the guardrail, naming the action and the operator's way to
    # approve it, and nothing at all is written
    [event] = world.audit()
    assert event["detail-type"] == DetailType.SPEC_REJECTED
    [error] = event["detail"]["errors"]
    assert error["path"].startswith("spec.additionalPolicies.node[0].Action")
    assert "PermissionsBoundary" in error["message"]
    assert "escalate its own privileges" in error["message"]
    assert "operator" in error["message"]
    assert world.calls.writes() == []
    assert world.role_names() == set()
