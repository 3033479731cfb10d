"""The fleet benchmark's fast provisioning (``support.fleet``) leaves exactly what the
function's first apply leaves: the reconciler finds such a cluster unchanged and writes
nothing, on an event and in a drift period, and its IAM state is that of an applied one."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from spec_builders import allow, spec, spec_text
from support import moto_scale
from support.fleet import BackendIam, provision_clusters
from support.world import World, object_event

from kops_iam.application.reconciler import Rejected
from kops_iam.aws.audit import DetailType

APPLIED = "applied.k8s.example.com"
FAST = "fast.k8s.example.com"
STAGING = "staging.k8s.example.com"  # the name bastion-all-roles.yaml gives its cluster


def full_state(world: World, cluster: str) -> dict[str, Any]:
    """Everything IAM holds for ``cluster`` (ids and dates left out), the name replaced."""
    iam = world.inspect_iam
    state = world.cluster_state(cluster)
    for role in sorted(world.role_names()):
        if not role.endswith("." + cluster):
            continue
        kind = role.split(".", 1)[0]
        state[f"description:{kind}"] = iam.get_role(RoleName=role)["Role"].get("Description")
        profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        tags = profile.get("Tags", [])
        state[f"profile-detail:{kind}"] = {
            "path": profile["Path"],
            "tags": sorted((t["Key"], t["Value"]) for t in tags),
        }
    normalized: dict[str, Any] = json.loads(
        json.dumps(state, sort_keys=True).replace(cluster, "<cluster>")
    )
    return normalized


def body(cluster: str) -> bytes:
    return spec(cluster, additional={"node": [allow("s3:GetObject")]}, bastion=True).encode()


def test_a_fast_cluster_is_unchanged_for_the_reconciler_and_equals_an_applied_one(
    world: World,
) -> None:
    # Given one cluster applied by the function and one provisioned the fast way
    version = world.upload_version(APPLIED, body(APPLIED))
    first = world.invoke(object_event(world.key(APPLIED), version))
    assert first.raised is None
    world.calls.clear()
    provisioned = provision_clusters(world, [(FAST, body(FAST))])
    assert provisioned.clusters == 1
    assert world.calls.sites == []  # nothing on the function's wire

    # When the function gets the fast cluster's Object Created event
    (key, fast_version) = provisioned.versions[0]
    answer = world.invoke(object_event(key, fast_version))

    # Then it is Spec Unchanged, with no IAM write, and IAM holds what the function wrote
    assert answer.raised is None
    assert [o["detailType"] for o in answer.summary["outcomes"]] == [DetailType.SPEC_UNCHANGED]
    assert answer.applied == []
    assert world.calls.take().iam_writes == 0
    assert len(first.applied) == provisioned.writes == 13  # 3 roles, 3 profiles, 3 adds, 4 policies
    assert full_state(world, FAST) == full_state(world, APPLIED)


@pytest.mark.parametrize("scale", [False, True], ids=["moto", "moto-at-fleet-scale"])
def test_a_fast_fleet_is_unchanged_in_a_drift_period(world: World, scale: bool) -> None:
    # Given three clusters provisioned the fast way (on moto as the bench runs it, or not)
    clusters = [f"c{i}.k8s.example.com" for i in range(3)]
    with moto_scale.active() if scale else contextlib.nullcontext():
        provision_clusters(world, [(c, body(c)) for c in clusters])

        # When a drift period runs
        run = world.drift_run()

    # Then every check is Spec Unchanged from the snapshot, nothing written
    assert run.raised is None
    assert sorted(o["cluster"] for o in run.summary["outcomes"]) == clusters
    assert {o["detailType"] for o in run.summary["outcomes"]} == {DetailType.SPEC_UNCHANGED}
    assert run.applied == []
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 1
    assert world.calls.take().iam_writes == 0


def test_a_spec_with_a_boundary_and_external_policies_provisions_as_applied(
    world: World,
) -> None:
    # Given the sample with every feature (boundary, external policy, approved bastion action)
    world.staging_policies()
    settings = world.staging_settings()
    text = spec_text("bastion-all-roles.yaml")
    provisioned = provision_clusters(world, [(STAGING, text.encode())], settings)

    # When the function, with the same settings, gets its Object Created event
    key, version = provisioned.versions[0]
    answer = world.invoke(object_event(key, version), world.runtime(settings))

    # Then nothing differs
    assert answer.raised is None
    assert [o["detailType"] for o in answer.summary["outcomes"]] == [DetailType.SPEC_UNCHANGED]
    assert answer.applied == []


def test_a_spec_the_reconciler_rejects_is_not_provisioned(world: World) -> None:
    # Given a spec that names another cluster
    with pytest.raises(Rejected, match="differs from the cluster of the key"):
        provision_clusters(world, [(FAST, body("other.k8s.example.com"))])

    # Then nothing was written
    assert not any(r.endswith(FAST) for r in world.role_names())


def test_only_the_writes_of_a_first_apply_reach_the_backend() -> None:
    with pytest.raises(NotImplementedError, match="delete_role"):
        BackendIam(object()).delete_role(RoleName="x")
