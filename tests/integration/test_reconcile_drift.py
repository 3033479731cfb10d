"""Drift on the fan-out: the schedule queues one check per cluster, workers drain the queue,
drift is corrected and reported; failures are per check (docs/adr/0110)."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from spec_builders import allow, spec
from support.wire import Fault
from support.world import World, scheduled_event

from kops_iam.application.drift import SnapshotCache, check_batch
from kops_iam.aws.audit import DetailType
from kops_iam.aws.events import DriftCheck

READS = ("bulk", "per-role")


def nodes(cluster: str) -> str:
    return f"nodes.{cluster}"


def apply_clusters(world: World, *clusters: str) -> None:
    for cluster in clusters:
        world.upload(cluster, spec(cluster, additional={"node": [allow("s3:GetObject")]}))
    world.deliver()
    world.audit()
    world.calls.clear()


def check(key: str, *, receives: int = 1, started: float | None = None) -> DriftCheck:
    return DriftCheck(
        message_id=f"m-{key}",
        key=key,
        run_id="run",
        run_started=time.time() if started is None else started,
        receive_count=receives,
    )


@pytest.mark.parametrize("read", READS)
def test_drift_made_by_hand_is_corrected_through_the_drift_queue(world: World, read: str) -> None:
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
    extras = world.managed_policy("handmade-managed")
    world.iam.attach_role_policy(RoleName=role, PolicyArn=extras)
    world.calls.clear()

    # When a drift period runs: the schedule queues the checks, a worker drains the queue
    run = world.drift_run(world.runtime(world.with_settings(drift_read=read)))

    # Then the schedule's invocation queued one check per cluster and changed nothing
    schedule = run.parts[0]
    assert schedule.raised is None and schedule.applied == []
    assert run.summary is not None and run.summary["drift"]["queued"] == 2
    # And cluster a is back to its spec: handmade policy, tag and attachment undone
    assert set(world.inline(role)) == {role, f"additional.{role}"}
    assert world.inline(role)[f"additional.{role}"]["Statement"][0]["Action"] == ["s3:GetObject"]
    assert world.tags(role)["KubernetesCluster"] == "a.k8s.example.com"
    assert world.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"] == []
    # And only cluster a produced an event: Drift Corrected, with the readable diff
    assert [e["detail-type"] for e in run.audit] == [DetailType.DRIFT_CORRECTED]
    detail = run.audit[0]["detail"]
    assert detail["cluster"] == "a.k8s.example.com" and detail["trigger"] == "schedule"
    [change] = detail["changes"]
    assert change["inlinePolicies"][f"additional.{role}"]["actions"]["removed"] == [
        "iam:CreateUser"
    ]
    assert change["inlinePolicies"]["handmade"]["change"] == "removed"
    assert change["managedPolicies"]["detached"] == [extras]
    assert change["tags"]["changed"]["KubernetesCluster"]["before"] == "other"
    by_type = {o["cluster"]: o["detailType"] for o in run.summary["outcomes"]}
    assert by_type == {
        "a.k8s.example.com": DetailType.DRIFT_CORRECTED,
        "b.k8s.example.com": DetailType.SPEC_UNCHANGED,
    }
    assert run.summary["batchItemFailures"] == []
    assert world.drift_queue.depth() == 0 and run.dead_letters == [] and run.raised is None


def test_a_bulk_check_reads_iam_once_and_reconciles_only_what_differs(world: World) -> None:
    # Given three applied clusters, one drifted by hand
    clusters = [f"{n}.k8s.example.com" for n in ("a", "b", "c")]
    apply_clusters(world, *clusters)
    world.inspect_iam.delete_role_policy(RoleName=nodes(clusters[1]), PolicyName=nodes(clusters[1]))

    # When a drift period runs with the bulk read
    run = world.drift_run()

    # Then IAM was read once in bulk, and role by role only for the drifted cluster
    reads = [site for site in world.calls.reads("iam")]
    assert reads.count("iam:GetAccountAuthorizationDetails") == 1
    per_role = [s for s in reads if s != "iam:GetAccountAuthorizationDetails"]
    assert per_role and all(s.startswith("iam:") for s in per_role)
    assert world.calls.by_site()["iam:GetRole"] == 3  # masters, nodes, bastions of cluster b
    # And the unchanged clusters cost one GET and one instancegroup/ listing each in S3
    assert world.calls.count("s3:GetObject") == 3 + 1  # + cluster b's pinned read
    assert [e["detail"]["cluster"] for e in run.audit] == [clusters[1]]
    assert world.calls.writes() == ["iam:PutRolePolicy"]


def test_the_schedule_queues_only_top_level_specs_and_checks_skip_the_rest(world: World) -> None:
    # Given a kops state store: specs, other cluster files, and a prefix without a spec
    apply_clusters(world, "a.k8s.example.com")
    for key in ("a.k8s.example.com/pki/ca.crt", "orphan.k8s.example.com/instancegroup/nodes"):
        world.s3.put_object(Bucket=world.bucket, Key=key, Body=b"x")
    world.calls.clear()

    # When a drift period runs
    run = world.drift_run()

    # Then both top-level prefixes were queued, in one listing and one SendMessageBatch
    assert run.summary is not None and run.summary["drift"]["queued"] == 2
    schedule_calls = run.parts[0]
    assert schedule_calls.raised is None
    assert world.calls.count("sqs:SendMessageBatch") == 1
    # And only the one spec was checked (the orphan prefix's GET found nothing)
    assert [o["cluster"] for o in run.summary["outcomes"]] == ["a.k8s.example.com"]
    assert world.calls.writes("iam") == []
    assert world.calls.count("s3:HeadObject") == 0
    # the top-level listing, then the checked cluster's instancegroup/ prefix (docs/adr/0093)
    assert world.calls.count("s3:ListObjectsV2") == 1 + 1
    assert world.calls.count("s3:GetObject") == 2
    assert run.audit == []  # unchanged clusters are not reported on schedule by default


def test_unchanged_clusters_can_be_reported_on_schedule_when_asked(world: World) -> None:
    apply_clusters(world, "a.k8s.example.com")
    runtime = world.runtime(world.with_settings(audit_unchanged_on_schedule=True))
    run = world.drift_run(runtime)
    assert [e["detail-type"] for e in run.audit] == [DetailType.SPEC_UNCHANGED]
    assert run.audit[0]["detail"]["trigger"] == "schedule"


def test_a_worker_out_of_time_puts_the_rest_back(world: World) -> None:
    # Given three specs and a clock that runs out after the first check started
    clusters = [f"{n}.k8s.example.com" for n in ("a", "b", "c")]
    apply_clusters(world, *clusters)
    ticks = iter(range(100))
    reconciler = world.reconciler(world.with_settings(drift_threads=1))
    reconciler.clock = lambda: float(next(ticks))
    checks = [check(world.key(c)) for c in clusters]

    # When a batch runs with a deadline one tick away
    report = check_batch(reconciler, checks, snapshots=SnapshotCache(900), deadline=1.0)

    # Then the first check ran and the others go back to the queue, unaudited
    assert [o.cluster for o in report.outcomes] == ["a.k8s.example.com"]
    assert report.retry == report.deferred == tuple(checks[1:])
    assert world.audit() == []


def test_several_threads_check_a_batch_and_stay_correct(world: World) -> None:
    # Given eight clusters, each drifted by hand
    clusters = [f"c{i}.k8s.example.com" for i in range(8)]
    apply_clusters(world, *clusters)
    for cluster in clusters:
        world.iam.delete_role_policy(
            RoleName=nodes(cluster), PolicyName=f"additional.{nodes(cluster)}"
        )
    runtime = world.runtime(world.with_settings(drift_threads=4))

    # When one batch of eight checks them four at a time
    run = world.drift_run(runtime, batch_size=8)

    # Then each is corrected exactly once and reported
    assert len(run.parts) == 2
    outcomes = run.summary["outcomes"] if run.summary else []
    assert sorted(o["cluster"] for o in outcomes) == clusters
    assert {o["detailType"] for o in outcomes} == {DetailType.DRIFT_CORRECTED}
    assert all(
        set(world.inline(nodes(c))) == {nodes(c), f"additional.{nodes(c)}"} for c in clusters
    )
    events: list[dict[str, Any]] = run.audit
    assert sorted(e["detail"]["cluster"] for e in events) == clusters


def test_one_snapshot_serves_a_run_and_a_later_run_takes_a_new_one(world: World) -> None:
    # Given two clusters and one worker container, no shared snapshot (its own bulk reads)
    apply_clusters(world, "a.k8s.example.com", "b.k8s.example.com")
    runtime = world.runtime(world.with_settings(snapshot_bucket=""))

    # When a run's checks arrive one per batch
    world.drift_run(runtime, batch_size=1)

    # Then one snapshot served both batches
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 1
    assert runtime.snapshots is not None and runtime.snapshots.reads == 1
    # And the next run (started after that snapshot) reads IAM again
    world.calls.clear()
    world.drift_run(runtime, batch_size=1)
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 1
    assert runtime.snapshots.reads == 2


def test_the_schedule_reads_iam_once_and_every_worker_takes_its_snapshot(world: World) -> None:
    # Given three clusters, one of them drifted by hand
    clusters = ["a.k8s.example.com", "b.k8s.example.com", "c.k8s.example.com"]
    apply_clusters(world, *clusters)
    role = nodes("b.k8s.example.com")
    world.iam.delete_role_policy(RoleName=role, PolicyName=f"additional.{role}")
    world.calls.clear()

    # When the schedule's container queues the run and two fresh containers drain it
    start = world.invoke(scheduled_event(), world.runtime())
    assert start.summary is not None and start.summary["drift"]["sharedRoles"] == 6
    schedule_pages = world.calls.count("iam:GetAccountAuthorizationDetails")
    workers = [world.runtime(), world.runtime()]
    first = world.drift_queue.receive(2)
    parts = [world.invoke(world.drift_queue.event(first), workers[0])]
    world.drift_queue.settle(first, parts[0].summary)
    parts += world.drift_checks(workers[1])

    # Then IAM was read in bulk once, by the schedule, and each worker took the shared copy
    assert schedule_pages == 1
    assert world.calls.count("iam:GetAccountAuthorizationDetails") == 1
    assert [(w.snapshots.reads, w.snapshots.loads) for w in workers if w.snapshots] == [
        (0, 1),
        (0, 1),
    ]
    assert world.calls.count("s3:PutObject") == 1
    # And the drifted cluster, only it, was corrected from the comparison with that copy
    outcomes = [o for p in parts if p.summary for o in p.summary["outcomes"]]
    assert sorted((o["cluster"], o["detailType"]) for o in outcomes) == [
        ("a.k8s.example.com", DetailType.SPEC_UNCHANGED),
        ("b.k8s.example.com", DetailType.DRIFT_CORRECTED),
        ("c.k8s.example.com", DetailType.SPEC_UNCHANGED),
    ]
    assert f"additional.{role}" in world.inline(role)


def test_a_snapshot_that_cannot_be_shared_leaves_each_worker_to_read_iam(world: World) -> None:
    # Given a drifted cluster, and S3 refusing the schedule's snapshot object
    apply_clusters(world, "a.k8s.example.com")
    role = nodes("a.k8s.example.com")
    world.iam.delete_role_policy(RoleName=role, PolicyName=f"additional.{role}")
    world.wire.faults = [
        Fault.persistent("s3:PutObject", "server-error", status=403, code="AccessDenied")
    ]
    world.calls.clear()

    # When a period runs with a fresh worker container
    start = world.invoke(scheduled_event(), world.runtime())
    worker = world.runtime()
    parts = world.drift_checks(worker)

    # Then the run was queued all the same, and the worker read IAM itself and corrected it
    assert start.raised is None and start.summary is not None
    assert start.summary["drift"] == {
        "run": start.summary["drift"]["run"],
        "clusters": 1,
        "queued": 1,
        "sharedRoles": None,
    }
    assert worker.snapshots is not None and (worker.snapshots.reads, worker.snapshots.loads) == (
        1,
        1,
    )
    outcomes = [o for p in parts if p.summary for o in p.summary["outcomes"]]
    assert [o["detailType"] for o in outcomes] == [DetailType.DRIFT_CORRECTED]
    assert f"additional.{role}" in world.inline(role)


def test_last_period_s_shared_snapshot_never_hides_this_period_s_drift(world: World) -> None:
    # Given a period that left its snapshot, then a hand edit, then the next period's checks
    # queued by a schedule whose own snapshot could not be shared (the old object remains)
    apply_clusters(world, "a.k8s.example.com")
    world.drift_run(world.runtime())
    role = nodes("a.k8s.example.com")
    world.iam.delete_role_policy(RoleName=role, PolicyName=f"additional.{role}")
    world.wire.faults = [
        Fault.persistent("s3:PutObject", "server-error", status=403, code="AccessDenied")
    ]
    world.invoke(scheduled_event(), world.runtime())
    world.wire.faults = []

    # When a fresh worker checks the cluster
    parts = world.drift_checks(world.runtime())

    # Then it did not compare with the older snapshot (which shows no drift): corrected
    outcomes = [o for p in parts if p.summary for o in p.summary["outcomes"]]
    assert [o["detailType"] for o in outcomes] == [DetailType.DRIFT_CORRECTED]


def test_a_check_that_fails_is_tried_again_and_reported_on_its_last_delivery(
    world: World,
) -> None:
    # Given an applied cluster drifted by hand, and IAM refusing every GetRole
    apply_clusters(world, "a.k8s.example.com")
    role = nodes("a.k8s.example.com")
    world.iam.delete_role_policy(RoleName=role, PolicyName=role)
    world.wire.faults = [
        Fault.persistent("iam:GetRole", "server-error", status=403, code="AccessDenied")
    ]

    # When a drift period runs (failed checks come back until their last delivery)
    run = world.drift_run()

    # Then the check was delivered as often as the queue allows; only the last was audited
    assert len(run.parts) == 1 + world.settings.drift_max_receives
    assert [e["detail-type"] for e in run.audit] == [DetailType.APPLY_FAILED]
    detail = run.audit[0]["detail"]
    assert detail["retried"] is False and detail["error"]["code"] == "AccessDenied"
    # And the queue gave up on it: it waits in the dead-letter queue
    [dead] = run.dead_letters
    assert dead["key"] == "a.k8s.example.com/config"
    assert run.raised is not None


def test_a_drift_run_needs_the_drift_queue(world: World) -> None:
    runtime = world.runtime(world.with_settings(drift_queue_url=None))
    invocation = world.invoke(scheduled_event(), runtime)
    assert invocation.raised is not None and "drift queue" in str(invocation.raised)
