"""The reconciler on a kops state store (moto in-process, self-contained): it reads a
cluster's InstanceGroup objects with its ``config``, verifies them after applying (an
InstanceGroup added meanwhile means another pass), bounds them, and finds a strict spec's
hosted zone in Route53 (docs/adr/0092, 0093)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any

import boto3
import pytest
import yaml
from moto import mock_aws
from spec_builders import cluster_json

from kops_iam.application.reconciler import InputObject, Reconciler, default_planner
from kops_iam.application.settings import Settings
from kops_iam.domain.lookups import Lookups
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.state_store import MAX_INSTANCE_GROUPS

BUCKET = "kops-state"
CLUSTER = "reads.k8s.example.com"


def instance_group(name: str, role: str) -> bytes:
    document = {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "InstanceGroup",
        "metadata": {"name": name, "labels": {"kops.k8s.io/cluster": CLUSTER}},
        "spec": {"role": role},
    }
    return yaml.safe_dump(document).encode()


@pytest.fixture
def aws() -> Iterator[dict[str, Any]]:
    with mock_aws():
        session = boto3.session.Session(region_name="us-east-1")
        clients = {name: session.client(name) for name in ("s3", "iam", "route53")}
        clients["s3"].create_bucket(Bucket=BUCKET)
        yield clients


def reconciler(aws: dict[str, Any], planner: Any = None) -> Reconciler:
    return Reconciler(
        Settings(bucket=BUCKET),
        iam=aws["iam"],
        s3=aws["s3"],
        route53=aws["route53"],
        planner=planner,
        sleep=lambda _s: None,
    )


def put(aws: dict[str, Any], key: str, body: bytes | str) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key=f"{CLUSTER}/{key}", Body=body)


def roles(aws: dict[str, Any]) -> set[str]:
    return {r["RoleName"] for r in aws["iam"].list_roles()["Roles"]}


def test_instance_group_objects_decide_the_bastion(aws: dict[str, Any]) -> None:
    # Given a Cluster alone, then with a bastion InstanceGroup beside it
    put(aws, "config", cluster_json(CLUSTER))
    put(aws, "instancegroup/nodes", instance_group("nodes", "Node"))
    assert reconciler(aws).reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Applied"
    assert f"bastions.{CLUSTER}" not in roles(aws)
    put(aws, "instancegroup/bastions", instance_group("bastions", "Bastion"))
    assert reconciler(aws).reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Applied"
    assert f"bastions.{CLUSTER}" in roles(aws)
    # When the bastion InstanceGroup is deleted, Then the role goes
    aws["s3"].delete_object(Bucket=BUCKET, Key=f"{CLUSTER}/instancegroup/bastions")
    assert reconciler(aws).reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Applied"
    assert f"bastions.{CLUSTER}" not in roles(aws)


def test_an_instance_group_added_while_applying_means_another_pass(aws: dict[str, Any]) -> None:
    # Given a planner during whose first run someone adds a bastion InstanceGroup
    put(aws, "config", cluster_json(CLUSTER))
    seen: list[int] = []

    def planner(objects: Sequence[InputObject], options: Options, lookups: Lookups) -> ClusterPlan:
        seen.append(len(objects))
        if len(seen) == 1:
            put(aws, "instancegroup/bastions", instance_group("bastions", "Bastion"))
        return default_planner(objects, options, lookups)

    # When the cluster is reconciled
    outcome = reconciler(aws, planner).reconcile_key(f"{CLUSTER}/config")

    # Then the verification saw the new InstanceGroup and went round again: the newest wins
    assert seen == [1, 2]
    assert outcome.detail_type == "Spec Applied"
    assert f"bastions.{CLUSTER}" in roles(aws)


def test_instance_groups_are_bounded(aws: dict[str, Any]) -> None:
    put(aws, "config", cluster_json(CLUSTER))
    for index in range(MAX_INSTANCE_GROUPS + 1):
        put(aws, f"instancegroup/g{index}", instance_group(f"g{index}", "Node"))
    rejected = reconciler(aws).reconcile_key(f"{CLUSTER}/config")
    assert rejected.detail_type == "Spec Rejected"
    assert roles(aws) == set()


def test_an_invalid_instance_group_is_reported_at_its_object(aws: dict[str, Any]) -> None:
    put(aws, "config", cluster_json(CLUSTER))
    put(aws, "instancegroup/broken", instance_group("broken", "Bastions"))
    calls: list[dict[str, Any]] = []
    found = reconciler(aws)
    found.publish = lambda detail_type, detail, resources: calls.append(dict(detail))  # type: ignore[method-assign]
    assert found.reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Rejected"
    [detail] = calls
    assert [e["path"] for e in detail["errors"]] == ["instancegroup/broken.spec.role"]


def test_a_strict_spec_gets_its_hosted_zone_and_state_store_from_aws(aws: dict[str, Any]) -> None:
    # Given the cluster's public zone in Route53 (and a private one of the same name)
    route53 = aws["route53"]
    public = route53.create_hosted_zone(Name="k8s.example.com", CallerReference="a")
    route53.create_hosted_zone(
        Name="k8s.example.com",
        CallerReference="b",
        HostedZoneConfig={"PrivateZone": True},
        VPC={"VPCRegion": "us-east-1", "VPCId": "vpc-12345678"},
    )
    zone = public["HostedZone"]["Id"].rsplit("/", 1)[-1]
    # And a strict spec with neither dnsZone nor configBase
    put(aws, "config", cluster_json(CLUSTER, iam={}))

    # When it is reconciled
    assert reconciler(aws).reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Applied"

    # Then the masters' Route53 rights are on that zone, their S3 rights on this bucket
    name = f"masters.{CLUSTER}"
    policy = aws["iam"].get_role_policy(RoleName=name, PolicyName=name)["PolicyDocument"]
    resources = json.dumps(policy)
    assert f"arn:aws:route53:::hostedzone/{zone}" in resources
    assert f"arn:aws:s3:::{BUCKET}/{CLUSTER}/*" in resources


def test_a_strict_spec_without_a_zone_in_route53_is_rejected_at_its_field(
    aws: dict[str, Any],
) -> None:
    put(aws, "config", cluster_json(CLUSTER, iam={}))
    calls: list[dict[str, Any]] = []
    found = reconciler(aws)
    found.publish = lambda detail_type, detail, resources: calls.append(dict(detail))  # type: ignore[method-assign]
    assert found.reconcile_key(f"{CLUSTER}/config").detail_type == "Spec Rejected"
    [error] = calls[0]["errors"]
    assert error["path"] == "spec.dnsZone" and "no public hosted zone" in error["message"]
