"""The production flow over HTTP: S3 upload -> notification -> runner -> handler -> IAM ->
audit event on the bus -> rule -> tail queue, for create, edit, reject, delete and drift."""

from __future__ import annotations

import json
from typing import Any

from spec_builders import allow, spec
from support.served import ServedWorld as World

from kops_iam.aws.audit import AUDIT_SOURCE, DetailType
from kops_iam.domain.naming import OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE


def _one(events: list[dict[str, Any]], detail_type: str) -> dict[str, Any]:
    assert [e["detail-type"] for e in events] == [detail_type], events
    return events[0]


def test_an_upload_reaches_iam_and_its_audit_event_comes_back_through_the_bus(
    world: World,
) -> None:
    # Given a cluster spec with a node additional policy
    cluster = "create.e2e.example.com"
    body = spec(cluster, additional={"node": [allow("dynamodb:GetItem")]})

    # When it is uploaded through the S3 API
    put, invocation = world.upload(cluster, body)

    # Then the runner handed moto's S3 notification (URL-encoded key, no version) to the handler
    [record] = invocation.event["Records"]
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["object"]["key"] == f"{cluster}%2Fconfig"
    assert "versionId" not in record["s3"]["object"]
    assert invocation.ok
    assert [o["detailType"] for o in invocation.outcomes] == [DetailType.SPEC_APPLIED]
    # And IAM holds both roles with their instance profiles, ownership tag and policies
    iam = world.emulator.iam
    assert world.roles(cluster) == {f"masters.{cluster}", f"nodes.{cluster}"}
    for role in (f"masters.{cluster}", f"nodes.{cluster}"):
        tags = {t["Key"]: t["Value"] for t in iam.get_role(RoleName=role)["Role"]["Tags"]}
        assert tags[OWNERSHIP_TAG_KEY] == OWNERSHIP_TAG_VALUE
        profile = iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role]
    nodes = world.inline(f"nodes.{cluster}")
    assert set(nodes) == {f"nodes.{cluster}", f"additional.nodes.{cluster}"}
    [statement] = nodes[f"additional.nodes.{cluster}"]["Statement"]
    assert statement["Action"] in ("dynamodb:GetItem", ["dynamodb:GetItem"])
    # And one audit event came back through the bus rule and the tail queue
    event = _one(world.audit(cluster), DetailType.SPEC_APPLIED)
    assert event["source"] == AUDIT_SOURCE
    assert event["resources"] == [f"arn:aws:s3:::{world.bucket}/{cluster}/config"]
    detail = event["detail"]
    assert detail["bucket"] == world.bucket
    assert detail["key"] == f"{cluster}/config"
    assert detail["versionId"] == put["VersionId"]  # read by HEAD: the notification had none
    assert detail["trigger"] == "s3"
    assert detail["requestId"] == invocation.request_id
    assert detail["summary"]["rolesCreated"] == 2


def test_an_edit_rewrites_only_the_changed_additional_policy_and_reports_the_diff(
    world: World,
) -> None:
    # Given a cluster applied with a node additional policy
    cluster = "edit.e2e.example.com"
    world.upload(cluster, spec(cluster, additional={"node": [allow("dynamodb:GetItem")]}))
    world.audit(cluster)
    masters_before = world.inline(f"masters.{cluster}")
    main_before = world.inline(f"nodes.{cluster}")[f"nodes.{cluster}"]

    # When the spec is uploaded again with a different additional policy
    queue = "arn:aws:sqs:eu-west-1:123456789012:jobs"
    _, invocation = world.upload(
        cluster, spec(cluster, additional={"node": [allow("sqs:SendMessage", resource=queue)]})
    )

    # Then one IAM write rewrote that policy, and the audit event carries the diff
    assert invocation.ok
    detail = _one(world.audit(cluster), DetailType.SPEC_APPLIED)["detail"]
    assert detail["summary"]["writes"] == 1
    [change] = detail["changes"]
    assert change["roleName"] == f"nodes.{cluster}"
    assert list(change["inlinePolicies"]) == [f"additional.nodes.{cluster}"]
    diff = change["inlinePolicies"][f"additional.nodes.{cluster}"]
    assert diff["actions"] == {"added": ["sqs:SendMessage"], "removed": ["dynamodb:GetItem"]}
    assert diff["resources"] == {"added": [queue], "removed": ["*"]}
    # And IAM holds the new policy while every other policy is as it was
    nodes = world.inline(f"nodes.{cluster}")
    [statement] = nodes[f"additional.nodes.{cluster}"]["Statement"]
    assert statement["Resource"] in (queue, [queue])
    assert nodes[f"nodes.{cluster}"] == main_before
    assert world.inline(f"masters.{cluster}") == masters_before


def test_an_invalid_spec_is_rejected_with_every_error_and_iam_is_untouched(
    world: World,
) -> None:
    # Given a cluster applied from a valid spec, and IAM as it then is
    cluster = "reject.e2e.example.com"
    world.upload(cluster, spec(cluster, additional={"node": [allow("dynamodb:GetItem")]}))
    world.audit(cluster)
    before = world.snapshot()

    # When a version with three mistakes in its node policy is uploaded
    invalid = spec(
        cluster,
        additional={
            "node": [
                {"Effect": "Permit", "Action": "s3:GetObject", "Resource": "*"},
                allow("iam:PassRole"),
                allow("ec2:DescribeInstancess"),
            ]
        },
    )
    _, invocation = world.upload(cluster, invalid)

    # Then the invocation succeeds (retrying cannot fix a spec) and reports every error
    assert invocation.ok
    assert [o["detailType"] for o in invocation.outcomes] == [DetailType.SPEC_REJECTED]
    detail = _one(world.audit(cluster), DetailType.SPEC_REJECTED)["detail"]
    assert detail["reason"] == "invalid-spec"
    assert sorted(e["path"] for e in detail["errors"]) == [
        "spec.additionalPolicies.node[0].Effect",
        "spec.additionalPolicies.node[1].Action[0]",
        "spec.additionalPolicies.node[2].Action[0]",
    ]
    # And IAM is exactly as it was
    assert world.snapshot() == before


def test_deleting_the_spec_deletes_the_clusters_roles(world: World) -> None:
    # Given an applied cluster
    cluster = "delete.e2e.example.com"
    world.upload(cluster, spec(cluster))
    world.audit(cluster)
    assert world.roles(cluster)

    # When its spec is deleted (a delete marker: the bucket is versioned, as in the stack)
    invocation = world.delete(cluster)

    # Then S3's ObjectRemoved:DeleteMarkerCreated reached the handler
    [record] = invocation.event["Records"]
    assert record["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert invocation.ok
    # And the roles and instance profiles are gone, and the audit event says so
    assert world.roles(cluster) == set()
    profiles = world.emulator.iam.list_instance_profiles()["InstanceProfiles"]
    assert not [p for p in profiles if p["InstanceProfileName"].endswith(cluster)]
    detail = _one(world.audit(cluster), DetailType.CLUSTER_DELETED)["detail"]
    assert detail["objectState"] == "absent"
    assert detail["summary"]["rolesDeleted"] == 2


def test_a_policy_changed_by_hand_is_put_back_by_the_scheduled_run(world: World) -> None:
    # Given an applied cluster, and its node policy changed by hand in IAM
    cluster = "drift.e2e.example.com"
    world.upload(cluster, spec(cluster))
    world.audit(cluster)
    role = f"nodes.{cluster}"
    iam = world.emulator.iam
    applied = world.inline(role)[role]
    tampered = {**applied, "Statement": [*applied["Statement"], allow("iam:AttachRolePolicy")]}
    iam.put_role_policy(RoleName=role, PolicyName=role, PolicyDocument=json.dumps(tampered))

    # When the drift schedule invokes the function, and the drift queue hands its checks
    # back to the function (over HTTP: the runner plays the queue's event source)
    schedule, *batches = world.runner.run_drift()

    # Then the schedule's run queued the checks, and the batches checked them
    assert schedule.scheduled and schedule.ok
    assert batches and all(b.drift_checks and b.ok for b in batches)
    # And the policy is back as the spec says, and a Drift Corrected event says what went
    assert world.inline(role)[role] == applied
    mine = [o for b in batches for o in b.outcomes if o["cluster"] == cluster]
    assert [o["detailType"] for o in mine] == [DetailType.DRIFT_CORRECTED]
    detail = _one(world.audit(cluster), DetailType.DRIFT_CORRECTED)["detail"]
    assert detail["trigger"] == "schedule"
    [change] = detail["changes"]
    assert change["inlinePolicies"][role]["actions"]["removed"] == ["iam:AttachRolePolicy"]
