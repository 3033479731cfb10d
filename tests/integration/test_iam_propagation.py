"""IAM propagation races after CreateRole: retried in place, bounded (docs/adr/0074).

IAM is eventually consistent: right after ``CreateRole`` it can answer ``NoSuchEntity`` for
the new role (``AddRoleToInstanceProfile``, ``PutRolePolicy``), and the function's own tag
conditions can be evaluated before the new role's tags show (``AccessDenied``). moto is
always consistent, so the faults are injected on the world's wire, on the first calls only.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from spec_builders import spec
from support.world import World

from kops_iam.application import handler
from kops_iam.aws.audit import DetailType
from kops_iam.aws.iam_write import PropagationRetry

CLUSTER = "fresh.k8s.example.com"
MASTERS, NODES = f"masters.{CLUSTER}", f"nodes.{CLUSTER}"
BUDGET = PropagationRetry().budget_seconds


pytestmark = pytest.mark.usefixtures("no_backoff_sleep")


def fail_first(world: World, site: str, calls: int, status: int, code: str) -> None:
    """The first ``calls`` calls of ``site`` answer ``code`` (botocore does not retry it)."""
    for nth in range(1, calls + 1):
        world.wire.fail(site, "server-error", nth=nth, status=status, code=code)


def test_adding_a_new_role_to_its_profile_waits_for_iam_to_show_the_role(world: World) -> None:
    # Given IAM not showing a just-created role to AddRoleToInstanceProfile three times
    fail_first(world, "iam:AddRoleToInstanceProfile", 3, 404, "NoSuchEntity")
    slept: list[float] = []
    world.upload(CLUSTER, spec(CLUSTER))
    world.calls.clear()

    # When the new spec is handled
    [summary] = world.deliver(world.runtime(sleep=slept.append))

    # Then the call was retried in place after short, growing waits, in one pass
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_APPLIED
    assert slept == [0.5, 1.0, 2.0]
    assert world.calls.count("iam:CreateRole") == 2  # never created twice
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 1  # one pass, one read
    [event] = world.audit()
    assert event["detail"]["passes"] == 1
    profiles = world.inspect_iam.get_instance_profile(InstanceProfileName=MASTERS)[
        "InstanceProfile"
    ]
    assert [r["RoleName"] for r in profiles["Roles"]] == [MASTERS]


def test_tag_conditions_not_yet_visible_on_a_new_role_are_waited_for(world: World) -> None:
    # Given the function's ownership-tag condition failing twice on the new role's policy
    fail_first(world, "iam:PutRolePolicy", 2, 403, "AccessDenied")
    slept: list[float] = []
    world.upload(CLUSTER, spec(CLUSTER))

    # When it is handled
    [summary] = world.deliver(world.runtime(sleep=slept.append))

    # Then it converged in the same invocation: no Apply Failed, no Lambda retry
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_APPLIED
    assert slept == [0.5, 1.0]
    assert set(world.inline(NODES)) == {NODES}
    assert [e["detail-type"] for e in world.audit()] == [DetailType.SPEC_APPLIED]


def test_the_wait_is_bounded_then_the_invocation_fails_for_lambda_to_retry(world: World) -> None:
    # Given IAM never showing the new role to AddRoleToInstanceProfile
    fault = world.wire.fail(
        "iam:AddRoleToInstanceProfile",
        "server-error",
        nth=0,
        attempts=0,
        status=404,
        code="NoSuchEntity",
    )
    slept: list[float] = []
    world.upload(CLUSTER, spec(CLUSTER))
    [notification] = world.notifications()

    # When it is handled, the invocation fails (Lambda retries it later)
    with pytest.raises(handler.ReconcileFailed):
        world.handle(notification, world.runtime(sleep=slept.append))

    # Then the in-place waits stayed within the budget (the rest are the passes' settles)
    propagation, settles = slept[:6], slept[6:]
    assert propagation == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
    assert sum(propagation) <= BUDGET
    assert settles == [0.25, 0.5, 1.0, 2.0, 2.0]
    assert fault.injected == 1 + 6 + 4
    [event] = world.audit()
    assert event["detail-type"] == DetailType.APPLY_FAILED
    assert event["detail"]["error"]["type"] == "NotConverged"


def test_errors_on_what_this_pass_did_not_create_are_not_waited_for(world: World) -> None:
    # Given a cluster already applied
    world.upload(CLUSTER, spec(CLUSTER))
    world.deliver()
    world.audit()
    # And IAM refusing to tag that existing role
    fail_first(world, "iam:TagRole", 1, 403, "AccessDenied")
    slept: list[float] = []
    world.upload(CLUSTER, spec(CLUSTER, labels={"team": "platform"}))
    [notification] = world.notifications()

    # When the edit is handled: AccessDenied on an existing role is a real refusal
    with pytest.raises(handler.ReconcileFailed):
        world.handle(notification, world.runtime(sleep=slept.append))

    # Then nothing waited: it failed at once
    assert slept == []
    [event] = world.audit()
    assert event["detail"]["error"]["code"] == "AccessDenied"


def test_a_missing_managed_policy_after_create_role_is_not_mistaken_for_propagation(
    world: World,
) -> None:
    # Given a new role whose spec attaches a managed policy IAM does not have
    missing = "arn:aws:iam::123456789012:policy/not-there"
    slept: list[float] = []
    options = replace(world.settings.options, allowed_managed_policies=frozenset({missing}))
    settings = world.with_settings(options=options)
    world.upload(CLUSTER, spec(CLUSTER, external={"node": [missing]}))
    [notification] = world.notifications()

    # When it is handled: NoSuchEntity names the policy, not the new role
    with pytest.raises(handler.ReconcileFailed):
        world.handle(notification, world.runtime(settings, sleep=slept.append))

    # Then it fails at once, without waiting
    assert slept == []
    [event] = world.audit()
    assert event["detail"]["error"]["operation"].startswith("attach_role_policy")
    assert not world.wire.injected
