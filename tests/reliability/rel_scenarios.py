"""Spec versions and reconcile scenarios shared by the fault and race tests.

Version 1 of a cluster uses every feature that makes the reconciler call AWS: a bastion,
additional policies on all three roles, an external managed policy, a permissions
boundary, an etcd key named by KMS alias (``kms:DescribeKey``) and cloud labels. Version 2
changes or drops each of them (so an update needs every kind of IAM write: put, delete,
tag, untag, attach, detach, boundary removal, role and profile deletion).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import support.world as W
from spec_builders import allow, cluster_doc

from kops_iam.application.settings import Settings

BOUNDARY = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-boundary"
EXTRA = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-extra"
EXTRA_2 = f"arn:aws:iam::{W.ACCOUNT}:policy/kops-extra-2"
TAMPER = f"arn:aws:iam::{W.ACCOUNT}:policy/tamper"
#: The managed policies the versions name (and the one tampering attaches).
POLICIES = ("kops-boundary", "kops-extra", "kops-extra-2", "tamper")


@contextmanager
def world(settings: Settings | None = None, **options: Any) -> Iterator[W.World]:
    """The reliability suite's world: the test world with :data:`POLICIES` and (unless
    ``kms_key=False``) a KMS key aliased ``alias/etcd``."""
    options.setdefault("kms_key", True)
    with W.world(settings, managed_policies=POLICIES, **options) as fresh:
        yield fresh


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
    body: dict[str, Any] = {}
    node_bucket = f"arn:aws:s3:::artifacts-v{version}" + (
        f"-{marker}" if marker is not None else ""
    )
    if version == 1:
        body["topology"] = {"masters": "private", "nodes": "private", "bastion": {}}
        body["additionalPolicies"] = {
            "master": json.dumps([allow("secretsmanager:GetSecretValue", sid="Secrets")]),
            "node": json.dumps([allow("s3:GetObject", resource=f"{node_bucket}/*")]),
            # ssm:StartSession is an escalation action now (docs/adr/0062)
            "bastion": json.dumps([allow("ssm:DescribeSessions")]),
        }
        body["externalPolicies"] = {"node": [EXTRA] if external is None else external}
        if boundary:
            body["iam"] = {"legacy": True, "permissionsBoundary": BOUNDARY}
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
                [allow("s3:GetObject", "s3:ListBucket", resource=f"{node_bucket}/*")]
            )
        }
        body["externalPolicies"] = {"node": [EXTRA_2] if external is None else external}
        body["cloudLabels"] = {"env": "prod", "owner": "b"}
    return json.dumps(cluster_doc(cluster, **body), indent=1)


@dataclass(frozen=True)
class Scenario:
    """``setup`` runs fault-free; ``step`` is the event faults are injected into, and
    :meth:`run` hands it to the function: one invocation, or for the drift scenario a whole
    drift period (the schedule's invocation and every batch of checks it queued)."""

    name: str
    setup: Callable[[W.World, str], None]
    step: Callable[[W.World, str], dict[str, Any]]
    kms: bool = True
    drift_period: bool = False

    def run(self, world: W.World, event: dict[str, Any]) -> W.Invocation:
        """What the function does with ``event`` (see the class docstring)."""
        if self.drift_period:
            return world.drift_run()
        return world.invoke(event)


def _apply(world: W.World, cluster: str, version: int, kms: bool = True) -> None:
    key_version = world.upload_version(cluster, spec(cluster, version, kms=kms))
    invocation = world.invoke(W.object_event(world.key(cluster), key_version))
    assert invocation.raised is None, invocation.raised


def _nothing(world: W.World, cluster: str) -> None:
    return None


def _upload_step(version: int) -> Callable[[W.World, str], dict[str, Any]]:
    def step(world: W.World, cluster: str) -> dict[str, Any]:
        key_version = world.upload_version(cluster, spec(cluster, version))
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
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("iam:*")]}),
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
    "drift": Scenario("drift", _tamper, _scheduled_step, kms=False, drift_period=True),
}
