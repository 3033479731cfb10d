"""The test world itself: the stack's resources, moto's quirks worked around, the wire."""

from __future__ import annotations

import json
import threading
from urllib.parse import unquote_plus

import pytest
from spec_builders import spec
from support.wire import Fault
from support.world import World

from kops_iam.application.settings import Defaults
from kops_iam.aws.audit import AUDIT_SOURCE
from kops_iam_tools.world.names import DELIVERY_QUEUES

TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:*"}
        ],
    }
)


def test_the_world_has_the_stacks_resources_under_the_stacks_names(world: World) -> None:
    s3, sqs, events = world.inspect_s3, world.sqs, world.events
    assert world.bucket == Defaults.SPECS_BUCKET and world.bus == Defaults.AUDIT_BUS_NAME
    assert s3.get_bucket_versioning(Bucket=world.bucket)["Status"] == "Enabled"
    queues = {url.rsplit("/", 1)[-1] for url in sqs.list_queues()["QueueUrls"]}
    assert queues >= {Defaults.FAILURE_QUEUE, Defaults.AUDIT_TAIL_QUEUE, *DELIVERY_QUEUES.values()}
    # And an event put on the audit bus reaches the tail queue
    events.put_events(
        Entries=[
            {
                "Source": AUDIT_SOURCE,
                "DetailType": "Spec Applied",
                "Detail": "{}",
                "EventBusName": world.bus,
            }
        ]
    )
    assert [e["source"] for e in world.audit()] == [AUDIT_SOURCE]


def test_a_spec_upload_is_delivered_both_ways_and_other_keys_only_by_notification(
    world: World,
) -> None:
    # Given a key the function never reads, then a spec
    world.inspect_s3.put_object(Bucket=world.bucket, Key="c.example.com/notes.txt", Body=b"x")
    world.upload("c.example.com", spec("c.example.com"))
    # Then S3 notifications carry both (a filter cannot select */instancegroup/*; the
    # function ignores what it does not read), the stack's EventBridge rule only the spec
    notifications = world.notifications()
    keys = [unquote_plus(n["Records"][0]["s3"]["object"]["key"]) for n in notifications]
    assert keys == ["c.example.com/notes.txt", "c.example.com/config"]
    assert {n["Records"][0]["eventName"] for n in notifications} == {"ObjectCreated:Put"}
    [bridged] = world.eventbridge_notifications()
    assert bridged["detail"]["object"]["key"] == "c.example.com/config"


def test_deleting_a_spec_and_then_its_delete_marker_is_notified_each_time(world: World) -> None:
    # Given a spec deleted the usual way (a delete marker: moto alone sends nothing)
    world.upload("c.example.com", spec("c.example.com"))
    world.notifications()
    world.delete("c.example.com")
    [marker] = world.notifications()
    assert marker["Records"][0]["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    # When every version is deleted by version id, the marker last (moto's notification
    # builder crashed on a marker; moto notifies only when a key's last version goes)
    listing = world.inspect_s3.list_object_versions(Bucket=world.bucket)
    for item in [*listing["Versions"], *listing["DeleteMarkers"]]:
        world.inspect_s3.delete_object(
            Bucket=world.bucket, Key=item["Key"], VersionId=item["VersionId"]
        )
    # Then S3's event arrives
    [removed] = world.notifications()
    assert removed["Records"][0]["eventName"] == "ObjectRemoved:Delete"


def _role_in_profile(world: World, name: str) -> None:
    iam = world.inspect_iam
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)
    iam.create_instance_profile(InstanceProfileName=name)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)


def test_removing_a_role_no_longer_in_its_profile_is_no_such_entity(world: World) -> None:
    _role_in_profile(world, "nodes.q.example.com")
    iam = world.iam
    iam.remove_role_from_instance_profile(
        InstanceProfileName="nodes.q.example.com", RoleName="nodes.q.example.com"
    )
    with pytest.raises(iam.exceptions.NoSuchEntityException):
        iam.remove_role_from_instance_profile(
            InstanceProfileName="nodes.q.example.com", RoleName="nodes.q.example.com"
        )
    assert world.wire.gone_writes() == [
        "remove_role_from_instance_profile nodes.q.example.com/nodes.q.example.com"
    ]


def test_threads_racing_on_one_profile_get_one_success_and_no_such_entity_otherwise(
    world: World,
) -> None:
    # Given many roles in profiles, removed by eight threads at once, each role by all
    names = [f"nodes.t{i}.example.com" for i in range(12)]
    for name in names:
        _role_in_profile(world, name)
    outcomes: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def remove_all() -> None:
        iam = world.client("iam")
        start.wait()
        for name in names:
            try:
                iam.remove_role_from_instance_profile(InstanceProfileName=name, RoleName=name)
                result = "removed"
            except iam.exceptions.NoSuchEntityException:
                result = "gone"
            with lock:
                outcomes.append(result)

    threads = [threading.Thread(target=remove_all) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    # Then each role was removed exactly once and every other attempt was told it was gone
    assert outcomes.count("removed") == len(names)
    assert outcomes.count("gone") == 7 * len(names)


def test_the_wire_counts_the_functions_calls_only_and_injects_faults(world: World) -> None:
    world.upload("c.example.com", spec("c.example.com"))  # the test's own: not counted
    assert world.calls.sites == []
    fault = world.wire.fail("s3:HeadObject", "throttle")
    world.s3.head_object(Bucket=world.bucket, Key=world.key("c.example.com"))
    assert fault.injected == 1  # the first attempt failed, botocore's retry succeeded
    assert world.calls.sites == ["s3:HeadObject"]
    assert world.wire.attempts["s3:HeadObject"] == 2
    iam = world.iam
    with (
        world.wire.faulted(Fault.persistent("iam:GetRole")),
        pytest.raises(iam.exceptions.ClientError),
    ):
        iam.get_role(RoleName="nope")
    assert world.calls.take().where("iam", read=True) == 1
    assert world.calls.sites == []
