"""Spec versions and reconcile scenarios shared by the fault and race tests.

Version 1 of a cluster uses every feature that makes the reconciler call AWS: a bastion,
additional policies on all three roles, an external managed policy, a permissions
boundary, an etcd key named by KMS alias (``kms:DescribeKey``) and cloud labels. Version 2
changes or drops each of them (so an update needs every kind of IAM write: put, delete,
tag, untag, attach, detach, boundary removal, role and profile deletion).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import rel_world as W

BOUNDARY = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-boundary"
EXTRA = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-extra"
EXTRA_2 = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-extra-2"
TAMPER = f"arn:aws:iam::{W.ACCOUNT}:policy/tamper"


def _allow(*actions: str, resource: str = "*", sid: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": resource}
    if sid:
        statement["Sid"] = sid
    return statement


def spec(
    cluster: str,
    version: int,
    *,
    kms: bool = True,
    marker: int | None = None,
    external: list[str] | None = None,
    boundary: bool = True,
) -> str:
    """Spec ``version`` (1 or 2) of ``cluster``; ``marker`` makes a distinct variant of it
    (a different node statement), for races over many versions."""
    body: dict[str, Any] = {
        "cloudProvider": "aws",
        "networkCIDR": "10.0.0.0/16",
        "networkID": "vpc-0a1b2c3d",
        "subnets": [
            {"name": "a", "zone": "eu-west-1a", "cidr": "10.0.32.0/19"},
            {"name": "b", "zone": "eu-west-1b", "cidr": "10.0.64.0/19"},
        ],
    }
    node_bucket = f"arn:aws:s3:::artifacts-v{version}" + (
        f"-{marker}" if marker is not None else ""
    )
    if version == 1:
        body["topology"] = {"masters": "private", "nodes": "private", "bastion": {}}
        body["additionalPolicies"] = {
            "master": json.dumps([_allow("secretsmanager:GetSecretValue", sid="Secrets")]),
            "node": json.dumps([_allow("s3:GetObject", resource=f"{node_bucket}/*")]),
            "bastion": json.dumps([_allow("ssm:DescribeSessions")]),
        }
        body["externalPolicies"] = {"node": [EXTRA] if external is None else external}
        if boundary:
            body["iam"] = {"permissionsBoundary": BOUNDARY}
        body["cloudLabels"] = {"team": "a"}
        if kms:
            body["etcdClusters"] = [
                {
                    "name": "main",
                    "etcdMembers": [
                        {"name": "a", "encryptedVolume": True, "kmsKeyId": "alias/etcd"}
                    ],
                }
            ]
    else:
        body["additionalPolicies"] = {
            "node": json.dumps(
                [_allow("s3:GetObject", "s3:ListBucket", resource=f"{node_bucket}/*")]
            )
        }
        body["externalPolicies"] = {"node": [EXTRA_2] if external is None else external}
        body["cloudLabels"] = {"env": "prod", "owner": "b"}
    return json.dumps(
        {
            "apiVersion": "kops.k8s.io/v1alpha2",
            "kind": "Cluster",
            "metadata": {"name": cluster},
            "spec": body,
        },
        indent=1,
    )


@dataclass(frozen=True)
class Scenario:
    """``setup`` runs fault-free; ``step`` is the invocation faults are injected into."""

    name: str
    setup: Callable[[W.World, str], None]
    step: Callable[[W.World, str], dict[str, Any]]
    kms: bool = True


def _apply(world: W.World, cluster: str, version: int, kms: bool = True) -> None:
    key_version = world.upload(cluster, spec(cluster, version, kms=kms))
    invocation = W.invoke(world, W.object_event(world.key(cluster), key_version))
    assert invocation.raised is None, invocation.raised


def _nothing(world: W.World, cluster: str) -> None:
    return None


def _upload_step(version: int) -> Callable[[W.World, str], dict[str, Any]]:
    def step(world: W.World, cluster: str) -> dict[str, Any]:
        key_version = world.upload(cluster, spec(cluster, version))
        return W.object_event(world.key(cluster), key_version)

    return step


def _delete_step(world: W.World, cluster: str) -> dict[str, Any]:
    world.delete(cluster)
    return W.object_event(world.key(cluster), None, deleted=True)


def _only_spec(world: W.World, cluster: str) -> None:
    """Remove every other spec object for good (all versions and delete markers: moto
    still lists the prefix of a key whose latest version is a delete marker), so a
    scheduled run scans this cluster alone."""
    s3 = world.inspect_s3
    keep = world.key(cluster)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=W.BUCKET):
        for item in [*page.get("Versions", []), *page.get("DeleteMarkers", [])]:
            if item["Key"] != keep:
                s3.delete_object(Bucket=W.BUCKET, Key=item["Key"], VersionId=item["VersionId"])


def _tamper(world: W.World, cluster: str) -> None:
    _only_spec(world, cluster)
    _apply(world, cluster, 1, kms=False)
    iam = world.inspect_iam
    iam.put_role_policy(
        RoleName=f"nodes.{cluster}",
        PolicyName="backdoor",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [_allow("iam:*")]}),
    )
    iam.attach_role_policy(RoleName=f"masters.{cluster}", PolicyArn=TAMPER)
    iam.untag_role(RoleName=f"nodes.{cluster}", TagKeys=["team"])
    iam.delete_role_policy(RoleName=f"bastions.{cluster}", PolicyName=f"bastions.{cluster}")


def _scheduled_step(world: W.World, cluster: str) -> dict[str, Any]:
    return W.scheduled_event()


SCENARIOS: dict[str, Scenario] = {
    "create": Scenario("create", _nothing, _upload_step(1)),
    "update": Scenario("update", lambda w, c: _apply(w, c, 1), _upload_step(2)),
    "delete": Scenario("delete", lambda w, c: _apply(w, c, 1), _delete_step),
    "drift": Scenario("drift", _tamper, _scheduled_step, kms=False),
}
