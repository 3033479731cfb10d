"""The reconciler end to end on moto: an S3 event in, IAM and the audit trail out.

Each test uploads or deletes specs through the S3 API, hands the notifications moto produced
to the handler, then asserts IAM's state, the AWS calls made and the audit events received
on the bus (through a rule and a queue).
"""

from __future__ import annotations

from typing import Any

import pytest
from spec_builders import allow, spec, spec_text
from support.world import REGION, SPEC_REGION, World
from support.world import test_client as aws_client

from kops_iam.aws.audit import DetailType
from kops_iam.domain.naming import OWNERSHIP_TAG_KEY, OWNERSHIP_TAG_VALUE
from kops_iam_tools.world.names import ACCOUNT

CLUSTER = "c1.k8s.example.com"
MASTERS, NODES, BASTIONS = (f"{p}.{CLUSTER}" for p in ("masters", "nodes", "bastions"))
ADDITIONAL_NODES = f"additional.{NODES}"
BUCKET_READ = allow("s3:GetObject", resource="arn:aws:s3:::artifacts/*", sid="Artifacts")


def only_event(world: World) -> dict[str, Any]:
    events = world.audit()
    assert len(events) == 1, [e["detail-type"] for e in events]
    return events[0]


def test_first_upload_creates_roles_profiles_policies_and_reports_them(world: World) -> None:
    # Given the staging sample (bastion, additional policies, external policy, boundary)
    world.staging_policies()
    cluster = "staging.k8s.example.com"
    world.upload(cluster, spec_text("bastion-all-roles.yaml"))
    world.calls.clear()

    # When its notification reaches the handler (the operator approved its SSM sessions)
    [summary] = world.deliver(world.runtime(world.staging_settings()))

    # Then every role exists with its trust, tags, boundary, inline and managed policies
    roles = {f"{p}.{cluster}" for p in ("masters", "nodes", "bastions")}
    assert world.role_names() == roles
    node = world.iam.get_role(RoleName=f"nodes.{cluster}")["Role"]
    assert node["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com"
    }
    assert node["PermissionsBoundary"]["PermissionsBoundaryArn"].endswith("policy/kops-boundary")
    assert world.tags(f"nodes.{cluster}")[OWNERSHIP_TAG_KEY] == OWNERSHIP_TAG_VALUE
    assert set(world.inline(f"nodes.{cluster}")) == {
        f"nodes.{cluster}",
        f"additional.nodes.{cluster}",
    }
    attached = world.iam.list_attached_role_policies(RoleName=f"nodes.{cluster}")[
        "AttachedPolicies"
    ]
    assert [p["PolicyName"] for p in attached] == ["staging-node-extras"]
    for role in roles:
        profile = world.iam.get_instance_profile(InstanceProfileName=role)["InstanceProfile"]
        assert [r["RoleName"] for r in profile["Roles"]] == [role]
        assert {t["Key"] for t in profile["Tags"]} >= {OWNERSHIP_TAG_KEY, "KubernetesCluster"}
    # And one Spec Applied event names the object and lists what was created
    event = only_event(world)
    assert event["source"] == "kops-iam"
    assert event["detail-type"] == DetailType.SPEC_APPLIED
    detail = event["detail"]
    head = world.s3.head_object(Bucket=world.bucket, Key=f"{cluster}/config")
    assert detail["cluster"] == cluster
    assert detail["key"] == f"{cluster}/config"
    assert detail["etag"] == head["ETag"].strip('"')
    assert detail["summary"]["rolesCreated"] == 3
    assert (
        detail["summary"]["writes"] == summary["outcomes"][0]["writes"] == len(world.calls.writes())
    )
    node_change = next(c for c in detail["changes"] if c["kind"] == "node")
    additional = node_change["inlinePolicies"][f"additional.nodes.{cluster}"]
    assert additional["change"] == "added"
    assert "s3:GetObject" in additional["actions"]["added"]
    assert "Deny s3:DeleteObject" in additional["actions"]["added"]
    assert node_change["managedPolicies"]["attached"] == [
        f"arn:aws:iam::{ACCOUNT}:policy/staging-node-extras"
    ]


@pytest.mark.parametrize("read", ["bulk", "per-role"])
def test_the_same_event_twice_is_unchanged_with_zero_writes_and_few_reads(
    world: World, read: str
) -> None:
    # Given a spec already applied (masters and nodes, the nodes with additional policies)
    world.settings = world.with_settings(event_read=read)
    world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))
    [notification] = world.notifications()
    world.handle(notification)
    world.audit()
    world.calls.clear()

    # When the very same notification is delivered again (S3 delivers at least once)
    [summary] = [world.handle(notification)]

    # Then nothing is written and the reads are a fixed few per role
    assert world.calls.writes() == []
    ops = world.calls.by_site()
    iam_reads = {op: n for op, n in ops.items() if op.startswith("iam:")}
    if read == "bulk":  # one page holds the account: one read for both roles
        assert iam_reads == {"iam:GetAccountAuthorizationDetails": 1}
    else:
        assert iam_reads == {
            "iam:GetRole": 3,  # master, node, and the absent bastion
            "iam:GetInstanceProfile": 2,
            "iam:ListRolePolicies": 2,
            "iam:ListAttachedRolePolicies": 2,
            "iam:GetRolePolicy": 3,  # masters main; nodes main + additional
        }
    assert ops["s3:HeadObject"] == 2 and ops["s3:GetObject"] == 1
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_UNCHANGED
    event = only_event(world)
    assert event["detail-type"] == DetailType.SPEC_UNCHANGED
    assert event["detail"]["changes"] == []
    assert event["detail"]["summary"]["writes"] == 0


def test_an_edited_additional_policy_changes_just_that_policy(world: World) -> None:
    # Given a cluster whose nodes may read one bucket
    world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))
    world.deliver()
    world.audit()
    before = world.snapshot()
    world.calls.clear()

    # When the spec is edited: another action and another resource
    edited = allow(
        "s3:GetObject", "s3:PutObject", resource="arn:aws:s3:::uploads/*", sid="Artifacts"
    )
    world.upload(CLUSTER, spec(additional={"node": [edited]}))
    world.deliver()

    # Then exactly one write replaced that policy, and nothing else changed
    assert world.calls.writes() == ["iam:PutRolePolicy"]
    after = world.snapshot()
    assert after[NODES]["inline"][ADDITIONAL_NODES]["Statement"][0]["Action"] == [
        "s3:GetObject",
        "s3:PutObject",
    ]
    del before[NODES]["inline"][ADDITIONAL_NODES], after[NODES]["inline"][ADDITIONAL_NODES]
    assert after == before
    # And the event's diff says which actions and resources were added and removed
    event = only_event(world)
    assert event["detail-type"] == DetailType.SPEC_APPLIED
    [change] = event["detail"]["changes"]
    assert change["roleName"] == NODES and change["action"] == "update"
    diff = change["inlinePolicies"][ADDITIONAL_NODES]
    assert diff["change"] == "modified"
    assert diff["actions"] == {"added": ["s3:PutObject"], "removed": []}
    assert diff["resources"] == {
        "added": ["arn:aws:s3:::uploads/*"],
        "removed": ["arn:aws:s3:::artifacts/*"],
    }


def test_dropping_the_additional_policy_deletes_it(world: World) -> None:
    # Given a cluster with an additional node policy
    world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))
    world.deliver()
    world.audit()
    world.calls.clear()

    # When the spec no longer has it
    world.upload(CLUSTER, spec())
    world.deliver()

    # Then the inline policy is deleted and the event says so
    assert world.calls.writes() == ["iam:DeleteRolePolicy"]
    assert set(world.inline(NODES)) == {NODES}
    [change] = only_event(world)["detail"]["changes"]
    diff = change["inlinePolicies"][ADDITIONAL_NODES]
    assert diff["change"] == "removed"
    assert diff["actions"]["removed"] == ["s3:GetObject"]


def test_an_invalid_spec_changes_nothing_and_reports_every_error(world: World) -> None:
    # Given an applied cluster
    world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))
    world.deliver()
    world.audit()
    before = world.snapshot()
    world.calls.clear()

    # When a spec with three errors replaces it
    bad = spec(
        additional={
            "node": [
                {"Effect": "Permit", "Action": ["s3:GetObject"], "Resource": ["*"]},
                {"Effect": "Allow", "Action": ["iam:PassRole"], "Resource": ["*"]},
            ]
        }
    ).replace('"10.0.0.0/16"', '"10.0.0.0/33"')
    world.upload(CLUSTER, bad)
    [summary] = world.deliver()

    # Then IAM is untouched (no write at all), and the invocation succeeded (no retry)
    assert world.calls.writes() == []
    assert world.snapshot() == before
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_REJECTED
    # And the rejection carries every error with its field path
    detail = only_event(world)["detail"]
    assert detail["reason"] == "invalid-spec"
    paths = [e["path"] for e in detail["errors"]]
    assert "spec.networkCIDR" in paths
    assert any(p.startswith("spec.additionalPolicies.node[0]") for p in paths)
    assert any(p.startswith("spec.additionalPolicies.node[1]") for p in paths)
    assert all(e["message"] for e in detail["errors"])


def test_a_spec_naming_another_cluster_is_rejected(world: World) -> None:
    # Given a spec for cluster B uploaded under cluster A's key (A's team may write only A/)
    world.upload("team-a.k8s.example.com", spec("team-b.k8s.example.com"))

    # When it is handled
    [summary] = world.deliver()

    # Then nothing exists in IAM and the rejection says why
    assert world.role_names() == set()
    assert world.calls.writes() == []
    detail = only_event(world)["detail"]
    assert detail["reason"] == "cluster-mismatch"
    assert detail["errors"][0]["path"] == "metadata.name"
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_REJECTED


def test_a_foreign_role_is_left_untouched_and_the_spec_rejected(world: World) -> None:
    # Given someone else's role with the node role's name (no ownership tag)
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument='{"Version":"2012-10-17"}')
    world.iam.put_role_policy(
        RoleName=NODES,
        PolicyName="theirs",
        PolicyDocument='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}',
    )
    before = world.snapshot()
    world.calls.clear()

    # When a spec wants that role
    world.upload(CLUSTER, spec())
    world.deliver()

    # Then nothing at all is written (not even the master role) and the reason is given
    assert world.calls.writes() == []
    assert world.snapshot() == before
    detail = only_event(world)["detail"]
    assert detail["reason"] == "foreign-role"
    [error] = detail["errors"]
    assert error["path"] == "roles.node"
    assert f"role {NODES} exists and is not managed by kops-iam" in error["message"]


def test_adoption_takes_over_a_foreign_role_when_the_operator_enables_it(world: World) -> None:
    # Given a foreign node role and an operator who enabled adoption
    world.iam.create_role(
        RoleName=NODES,
        AssumeRolePolicyDocument='{"Version":"2012-10-17"}',
        Tags=[{"Key": "owner", "Value": "someone"}],
    )
    runtime = world.runtime(world.with_settings(adopt_existing_roles=True))

    # When the spec is applied
    world.upload(CLUSTER, spec())
    world.deliver(runtime)

    # Then the role now carries the ownership tag and exactly the plan's tags and trust
    tags = world.tags(NODES)
    assert tags[OWNERSHIP_TAG_KEY] == OWNERSHIP_TAG_VALUE
    assert "owner" not in tags
    trust = world.iam.get_role(RoleName=NODES)["Role"]["AssumeRolePolicyDocument"]
    assert trust["Statement"][0]["Action"] == "sts:AssumeRole"
    [node] = [c for c in only_event(world)["detail"]["changes"] if c["kind"] == "node"]
    assert node["adopted"] is True


def test_deletion_removes_what_kops_iam_owns_and_nothing_else(world: World) -> None:
    # Given an applied cluster with a bastion, and a foreign role of another kind... that
    # happens to sit next to it (someone's own role, not named like a kops role)
    world.managed_policy("extras")
    extras = f"arn:aws:iam::{ACCOUNT}:policy/extras"
    world.upload(
        CLUSTER, spec(bastion=True, external={"node": [extras]}, additional={"node": [BUCKET_READ]})
    )
    world.deliver()
    world.iam.create_role(RoleName="unrelated", AssumeRolePolicyDocument="{}")
    world.audit()

    # When the spec object is deleted
    world.delete(CLUSTER)
    world.deliver()

    # Then the cluster's roles, policies and instance profiles are gone
    assert world.role_names() == {"unrelated"}
    assert world.iam.list_instance_profiles()["InstanceProfiles"] == []
    event = only_event(world)
    assert event["detail-type"] == DetailType.CLUSTER_DELETED
    detail = event["detail"]
    assert detail["objectState"] == "absent" and detail["retained"] is False
    assert {c["roleName"]: c["action"] for c in detail["changes"]} == {
        MASTERS: "delete",
        NODES: "delete",
        BASTIONS: "delete",
    }
    node = next(c for c in detail["changes"] if c["kind"] == "node")
    assert node["managedPolicies"]["detached"] == [extras]

    # And a second delivery of the deletion finds nothing left to do
    world.calls.clear()
    world.upload(CLUSTER, spec())
    world.delete(CLUSTER)
    notifications = world.notifications()
    world.handle(notifications[-1])
    assert world.calls.writes() == []
    assert only_event(world)["detail-type"] == DetailType.SPEC_UNCHANGED


def test_retain_on_delete_keeps_the_roles(world: World) -> None:
    # Given an applied cluster and an operator who retains roles on deletion
    runtime = world.runtime(world.with_settings(retain_on_delete=True))
    world.upload(CLUSTER, spec())
    world.deliver(runtime)
    before = world.snapshot()
    world.audit()
    world.calls.clear()

    # When the spec object is deleted
    world.delete(CLUSTER)
    world.deliver(runtime)

    # Then nothing is deleted and the event says the roles were retained
    assert world.calls.writes() == []
    assert world.snapshot() == before
    event = only_event(world)
    assert event["detail-type"] == DetailType.CLUSTER_DELETED
    assert event["detail"]["retained"] is True
    assert {c["action"] for c in event["detail"]["changes"]} == {"retain"}


def test_a_bastion_dropped_from_the_spec_is_deleted(world: World) -> None:
    # Given a cluster with a bastion
    world.upload(CLUSTER, spec(bastion=True))
    world.deliver()
    world.audit()

    # When the bastion is removed from the spec
    world.upload(CLUSTER, spec())
    world.deliver()

    # Then its role and profile are gone, the others untouched
    assert world.role_names() == {MASTERS, NODES}
    [change] = only_event(world)["detail"]["changes"]
    assert (change["roleName"], change["action"]) == (BASTIONS, "delete")


def test_external_policies_and_labels_are_declarative(world: World) -> None:
    # Given nodes with two external policies and a label
    a, b = world.managed_policy("a"), world.managed_policy("b")
    world.upload(CLUSTER, spec(external={"node": [a, b]}, labels={"team": "red"}))
    world.deliver()
    world.audit()
    world.calls.clear()

    # When one policy is dropped and the label changes
    world.upload(CLUSTER, spec(external={"node": [a]}, labels={"team": "blue"}))
    world.deliver()

    # Then b is detached, the label updated on the role and its instance profile
    attached = world.iam.list_attached_role_policies(RoleName=NODES)["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == [a]
    assert world.tags(NODES)["team"] == "blue"
    assert sorted(world.calls.writes()) == sorted(
        ["iam:DetachRolePolicy"] + ["iam:TagRole", "iam:TagInstanceProfile"] * 2
    )
    changes = {c["kind"]: c for c in only_event(world)["detail"]["changes"]}
    assert changes["node"]["managedPolicies"] == {"attached": [], "detached": [b]}
    assert changes["node"]["tags"] == {"changed": {"team": {"before": "red", "after": "blue"}}}


def test_plan_mode_reports_the_diff_and_writes_nothing(world: World) -> None:
    # Given a deployment in plan mode
    runtime = world.runtime(world.with_settings(mode="plan"))
    world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))

    # When a new spec arrives
    world.deliver(runtime)

    # Then IAM has nothing, and a Spec Planned event lists what would be created
    assert world.role_names() == set()
    assert world.calls.writes() == []
    event = only_event(world)
    assert event["detail-type"] == DetailType.SPEC_PLANNED
    assert event["detail"]["mode"] == "plan"
    assert event["detail"]["summary"]["plannedWrites"] > 0
    assert event["detail"]["summary"]["writes"] == 0
    assert {c["action"] for c in event["detail"]["changes"]} == {"create"}


def test_s3_events_delivered_by_eventbridge_are_handled_too(world: World) -> None:
    # Given a bucket that sends its events to EventBridge (an existing state store)
    world.upload(CLUSTER, spec())
    world.notifications()  # the direct notification is not used in this test
    [created] = world.eventbridge_notifications()

    # When the EventBridge event reaches the handler
    [summary] = [world.handle(created)]

    # Then the roles exist and the event names the EventBridge trigger
    assert world.role_names() == {MASTERS, NODES}
    assert summary["outcomes"][0]["detailType"] == DetailType.SPEC_APPLIED
    assert only_event(world)["detail"]["trigger"] == "eventbridge"
    # And an Object Deleted event deletes them
    world.delete(CLUSTER)
    [deleted] = world.eventbridge_notifications()
    world.handle(deleted)
    assert world.role_names() == set()


def test_an_oversized_object_is_refused_from_its_head_without_download(world: World) -> None:
    # Given an object over the 1 MiB cap
    world.upload(CLUSTER, b"#" * (1024 * 1024 + 1))
    world.calls.clear()

    # When it is handled
    world.deliver()

    # Then it was never downloaded, nothing was written, and it is rejected as too large
    assert world.calls.count("s3:GetObject") == 0
    assert world.calls.writes() == []
    detail = only_event(world)["detail"]
    assert detail["reason"] == "too-large"


def test_kms_aliases_are_resolved_through_kms(world: World) -> None:
    # Given an etcd volume encrypted with a key named by its alias, in the cluster's region
    kms = aws_client("kms", SPEC_REGION)
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/etcd", TargetKeyId=key["KeyId"])

    # When the spec is applied
    world.upload(CLUSTER, spec(kms_key="alias/etcd"))
    world.deliver()

    # Then the master policy grants KMS on the key's ARN
    statements = world.inline(MASTERS)[MASTERS]["Statement"]
    resources = {r for s in statements for r in s["Resource"] if ":kms:" in r}
    assert resources == {key["Arn"]}
    assert world.calls.count("kms:DescribeKey") == 1


def test_kms_aliases_are_resolved_in_the_clusters_region_not_the_functions(
    world: World,
) -> None:
    # Given the same alias naming one key where the function runs and another where the
    # cluster is (KMS is regional; the spec's region is eu-west-1)
    assert world.kms.meta.region_name == REGION != SPEC_REGION
    home, theirs = aws_client("kms", REGION), aws_client("kms", SPEC_REGION)
    here = home.create_key()["KeyMetadata"]
    home.create_alias(AliasName="alias/etcd", TargetKeyId=here["KeyId"])
    there = theirs.create_key()["KeyMetadata"]
    theirs.create_alias(AliasName="alias/etcd", TargetKeyId=there["KeyId"])

    # When a spec naming the alias is applied
    world.upload(CLUSTER, spec(kms_key="alias/etcd"))
    world.deliver()

    # Then the masters may use the cluster's key, not the function region's one
    statements = world.inline(MASTERS)[MASTERS]["Statement"]
    resources = {r for s in statements for r in s["Resource"] if ":kms:" in r}
    assert resources == {there["Arn"]}
    assert f":kms:{SPEC_REGION}:" in there["Arn"]
    # And an alias ARN is resolved in its own region
    world.upload(CLUSTER, spec(kms_key=here["Arn"].replace(f"key/{here['KeyId']}", "alias/etcd")))
    world.deliver()
    statements = world.inline(MASTERS)[MASTERS]["Statement"]
    assert {r for s in statements for r in s["Resource"] if ":kms:" in r} == {here["Arn"]}


def test_an_unknown_kms_alias_is_a_spec_error_at_its_path(world: World) -> None:
    world.upload(CLUSTER, spec(kms_key="alias/missing"))
    world.deliver()
    detail = only_event(world)["detail"]
    assert detail["reason"] == "invalid-spec"
    assert detail["errors"][0]["path"].startswith("spec.etcdClusters[0].etcdMembers[0]")
    assert world.role_names() == set()


def test_a_key_that_is_not_a_spec_is_ignored(world: World) -> None:
    # Given a notification for a nested key that only looks like a spec
    world.s3.put_object(Bucket=world.bucket, Key="a/b/config", Body=b"x")
    [notification] = world.notifications()

    # When it is handled
    summary = world.handle(notification)

    # Then nothing is reconciled and no event is published
    assert summary["outcomes"][0]["detailType"] is None
    assert world.audit() == []
    assert world.calls.count("iam:") == 0


def test_a_versioned_bucket_pins_versions_and_a_stale_event_reads_the_current_one(
    world: World,
) -> None:
    # Given a versioned bucket where version 2 replaced version 1
    world.s3.put_bucket_versioning(
        Bucket=world.bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    first = world.upload(CLUSTER, spec(additional={"node": [BUCKET_READ]}))
    second = world.upload(CLUSTER, spec())
    stale, _current = world.notifications()

    # When the event of version 1 arrives (late)
    world.handle(stale)

    # Then version 2 is what was applied, and the event names it
    assert set(world.inline(NODES)) == {NODES}
    detail = only_event(world)["detail"]
    assert detail["versionId"] == second["VersionId"] != first["VersionId"]

    # And after a deletion (a delete marker), any event for the key, even that old
    # "created" one, deletes the roles: the object's state decides, not the event
    world.delete(CLUSTER)
    world.handle(stale)
    assert world.role_names() == set()
    assert only_event(world)["detail-type"] == DetailType.CLUSTER_DELETED


def test_a_scheduled_run_in_plan_mode_reports_only_clusters_with_changes(world: World) -> None:
    # Given one applied cluster and one spec never applied, in a plan-mode deployment
    world.upload(CLUSTER, spec())
    world.deliver()
    world.upload("new.k8s.example.com", spec("new.k8s.example.com"))
    world.notifications()
    world.audit()
    world.calls.clear()
    runtime = world.runtime(world.with_settings(mode="plan"))

    # When a drift period runs
    run = world.drift_run(runtime)

    # Then only the cluster that would change is reported, as Spec Planned
    assert run.summary is not None and len(run.summary["outcomes"]) == 2
    [event] = run.audit
    assert event["detail-type"] == DetailType.SPEC_PLANNED
    assert event["detail"]["cluster"] == "new.k8s.example.com"
    assert world.calls.writes() == []
