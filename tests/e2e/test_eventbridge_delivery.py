"""The existing-bucket path: S3 events through EventBridge, a rule on the spec keys, the
runner, the handler, IAM and the audit bus, over HTTP."""

from __future__ import annotations

from spec_builders import spec
from support.served import ServedWorld as World

from kops_iam.aws.audit import DetailType
from kops_iam.aws.events import S3_OBJECT_CREATED, S3_OBJECT_DELETED


def test_s3_events_through_eventbridge_create_then_delete_a_clusters_roles(
    eventbridge_world: World,
) -> None:
    world = eventbridge_world
    cluster = "bridge.e2e.example.com"
    # Given an object that is not a spec, uploaded first (the rule must not pass it on)
    world.emulator.s3.put_object(Bucket=world.bucket, Key=f"{cluster}/notes.txt", Body=b"hi")

    # When the cluster's spec is uploaded to the existing bucket
    put, created = world.upload(cluster, spec(cluster))

    # Then the handler got the S3 "Object Created" event EventBridge routed, and applied it
    assert created.event["source"] == "aws.s3"
    assert created.event["detail-type"] == S3_OBJECT_CREATED
    assert created.event["detail"]["bucket"]["name"] == world.bucket
    assert created.ok
    assert world.roles(cluster) == {f"masters.{cluster}", f"nodes.{cluster}"}
    [applied] = world.audit(cluster)
    assert applied["detail-type"] == DetailType.SPEC_APPLIED
    assert applied["detail"]["trigger"] == "eventbridge"
    assert applied["detail"]["bucket"] == world.bucket
    assert applied["detail"]["versionId"] == put["VersionId"]

    # When the spec is deleted
    deleted = world.delete(cluster)

    # Then "Object Deleted" reached the handler and the roles are gone
    assert deleted.event["detail-type"] == S3_OBJECT_DELETED
    assert world.roles(cluster) == set()
    [gone] = world.audit(cluster)
    assert gone["detail-type"] == DetailType.CLUSTER_DELETED
    # And nothing else was delivered: no non-spec key, no "Object Tags Added" event
    delivered = [(i.event["detail-type"], i.keys) for i in world.runner.invocations]
    assert delivered == [
        (S3_OBJECT_CREATED, (f"{cluster}/config",)),
        (S3_OBJECT_DELETED, (f"{cluster}/config",)),
    ]
