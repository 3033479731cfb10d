"""The scheduled run: every spec in the bucket reconciled, drift corrected and reported."""

from __future__ import annotations

import json
from typing import Any

from spec_builders import allow, spec
from support.world import ROOT, World

from kops_iam.application.scan import scan_bucket
from kops_iam.aws.audit import DetailType

SCHEDULED = json.loads((ROOT / "events" / "eventbridge" / "scheduled.json").read_text())


def nodes(cluster: str) -> str:
    return f"nodes.{cluster}"


def apply_clusters(world: World, *clusters: str) -> None:
    for cluster in clusters:
        world.upload(cluster, spec(cluster, additional={"node": [allow("s3:GetObject")]}))
    world.deliver()
    world.audit()
    world.calls.clear()


def test_drift_made_by_hand_is_corrected_by_the_scheduled_run(world: World) -> None:
    # Given two applied clusters, one of which was edited by hand in IAM
    apply_clusters(world, "a.k8s.example.com", "b.k8s.example.com")
    role = nodes("a.k8s.example.com")
    world.iam.put_role_policy(
        RoleName=role,
        PolicyName=f"additional.{role}",
        PolicyDocument=json.dumps(
            {"Version": "2012-10-17", "Statement": [allow("s3:GetObject", "iam:CreateUser")]}
        ),
    )
    world.iam.put_role_policy(
        RoleName=role,
        PolicyName="handmade",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("ec2:*")]}),
    )
    world.iam.tag_role(RoleName=role, Tags=[{"Key": "KubernetesCluster", "Value": "other"}])
    world.iam.delete_role_permissions_boundary(RoleName=role)  # (there was none: no-op)
    extras = world.managed_policy("handmade-managed")
    world.iam.attach_role_policy(RoleName=role, PolicyArn=extras)
    world.calls.clear()

    # When the schedule fires
    [summary] = [world.handle(SCHEDULED)]

    # Then cluster a is back to its spec: handmade policy, tag and attachment undone
    assert set(world.inline(role)) == {role, f"additional.{role}"}
    assert world.inline(role)[f"additional.{role}"]["Statement"][0]["Action"] == ["s3:GetObject"]
    assert world.tags(role)["KubernetesCluster"] == "a.k8s.example.com"
    assert world.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    # And only cluster a produced an event: Drift Corrected, with the readable diff
    events = world.audit()
    assert [e["detail-type"] for e in events] == [DetailType.DRIFT_CORRECTED]
    detail = events[0]["detail"]
    assert detail["cluster"] == "a.k8s.example.com" and detail["trigger"] == "schedule"
    [change] = detail["changes"]
    assert change["inlinePolicies"][f"additional.{role}"]["actions"]["removed"] == [
        "iam:CreateUser"
    ]
    assert change["inlinePolicies"]["handmade"]["change"] == "removed"
    assert change["managedPolicies"]["detached"] == [extras]
    assert change["tags"]["changed"]["KubernetesCluster"]["before"] == "other"
    by_type = {o["cluster"]: o["detailType"] for o in summary["outcomes"]}
    assert by_type == {
        "a.k8s.example.com": DetailType.DRIFT_CORRECTED,
        "b.k8s.example.com": DetailType.SPEC_UNCHANGED,
    }


def test_the_scheduled_run_lists_only_top_level_specs_and_skips_the_rest(world: World) -> None:
    # Given a kops state store: specs, other cluster files, and a prefix without a spec
    apply_clusters(world, "a.k8s.example.com")
    for key in ("a.k8s.example.com/pki/ca.crt", "orphan.k8s.example.com/instancegroup/nodes"):
        world.s3.put_object(Bucket=world.bucket, Key=key, Body=b"x")
    world.calls.clear()

    # When the schedule fires
    summary = world.handle(SCHEDULED)

    # Then only the one spec is reconciled (the orphan prefix is HEADed and skipped)
    assert [o["cluster"] for o in summary["outcomes"]] == ["a.k8s.example.com"]
    assert world.calls.writes() == []
    # one listing of the top-level prefixes, then the reconciled cluster's instancegroup/
    # prefix before and after applying (docs/adr/0093)
    assert world.calls.count("s3:ListObjectsV2") == 1 + 2
    assert world.calls.count("s3:GetObject") == 1
    assert world.audit() == []  # unchanged clusters are not reported on schedule by default


def test_unchanged_clusters_can_be_reported_on_schedule_when_asked(world: World) -> None:
    apply_clusters(world, "a.k8s.example.com")
    runtime = world.runtime(world.with_settings(audit_unchanged_on_schedule=True))
    world.handle(SCHEDULED, runtime)
    assert [e["detail-type"] for e in world.audit()] == [DetailType.SPEC_UNCHANGED]


def test_a_run_that_runs_out_of_time_skips_the_rest_and_rotates(world: World) -> None:
    # Given three specs and a clock that runs out after the first cluster started
    clusters = [f"{n}.k8s.example.com" for n in ("a", "b", "c")]
    apply_clusters(world, *clusters)
    ticks = iter(range(100))
    reconciler = world.reconciler(world.with_settings(scan_workers=1))
    reconciler.clock = lambda: float(next(ticks))

    # When the run starts at rotation 1 with a deadline one tick away
    report = scan_bucket(reconciler, deadline=1.0, rotation=1)

    # Then the cluster at index 1 ran and the others are reported as skipped
    assert [o.cluster for o in report.outcomes] == ["b.k8s.example.com"]
    assert report.skipped == ("c.k8s.example.com/config", "a.k8s.example.com/config")


def test_scheduled_runs_use_several_workers_and_stay_correct(world: World) -> None:
    # Given eight clusters, each drifted by hand
    clusters = [f"c{i}.k8s.example.com" for i in range(8)]
    apply_clusters(world, *clusters)
    for cluster in clusters:
        world.iam.delete_role_policy(
            RoleName=nodes(cluster), PolicyName=f"additional.{nodes(cluster)}"
        )
    reconciler = world.reconciler(world.with_settings(scan_workers=4))

    # When a scheduled run reconciles them four at a time
    report = scan_bucket(reconciler)

    # Then each is corrected exactly once and reported
    assert sorted(o.cluster or "" for o in report.outcomes) == clusters
    assert {o.detail_type for o in report.outcomes} == {DetailType.DRIFT_CORRECTED}
    assert all(
        set(world.inline(nodes(c))) == {nodes(c), f"additional.{nodes(c)}"} for c in clusters
    )
    events: list[dict[str, Any]] = world.audit()
    assert sorted(e["detail"]["cluster"] for e in events) == clusters
