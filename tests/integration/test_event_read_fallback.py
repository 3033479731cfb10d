"""An event's reconcile that cannot use the bulk read reads role by role (docs/adr/0121);
a drift check's reconcile reads the cluster's own roles."""

from __future__ import annotations

import pytest
from spec_builders import spec
from support.world import World

CLUSTER = "bulk.k8s.example.com"

pytestmark = pytest.mark.usefixtures("no_backoff_sleep")


@pytest.mark.parametrize(
    ("code", "remembered"),
    [("AccessDenied", True), ("Throttling", False), ("ServiceFailure", False)],
    ids=["denied", "throttled", "failed"],
)
def test_a_failed_bulk_read_falls_back_to_the_per_role_reads(
    world: World, code: str, remembered: bool
) -> None:
    # Given IAM answering the bulk read with an error
    world.upload(CLUSTER, spec(CLUSTER))
    world.deliver()
    world.audit()
    world.wire.fail(
        "iam:GetAccountAuthorizationDetails",
        "server-error",
        nth=0,
        attempts=0,
        status=400,
        code=code,
    )
    reconciler = world.reconciler()
    world.calls.clear()

    # When an event's reconcile runs, twice
    first = reconciler.reconcile_key(world.key(CLUSTER))
    second = reconciler.reconcile_key(world.key(CLUSTER))

    # Then both read role by role and found nothing to change
    assert first.detail_type == second.detail_type == "Spec Unchanged"
    assert world.calls.writes() == []
    assert world.calls.by_site()["iam:GetRole"] == 6
    # And a denied action is not asked again; any other failure is (it may pass)
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == (1 if remembered else 2)


def test_a_drift_correction_reads_the_clusters_own_roles(world: World) -> None:
    # Given an applied cluster
    world.upload(CLUSTER, spec(CLUSTER))
    world.deliver()
    world.audit()
    world.calls.clear()

    # When a drift check's reconcile runs (the period's bulk read was the check's)
    outcome = world.reconciler().reconcile_key(world.key(CLUSTER), trigger="schedule")

    # Then it read the cluster's roles, not the account
    assert outcome.detail_type == "Spec Unchanged"
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 0
    assert world.calls.by_site()["iam:GetRole"] == 3
