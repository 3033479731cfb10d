"""A kops state store on the embedded AWS, over HTTP (docs/adr/0093): adding a bastion
InstanceGroup object creates the bastions role, deleting it removes the role, and the
function reads nothing but ``*/config`` and ``*/instancegroup/*`` (every S3 call counted).

The bucket is laid out as kops lays it out (``config``, ``instancegroup/<name>``,
``cluster.spec``, ``pki/``, ``secrets/``, ``addons/``, including a secret named ``config``
and a keyset named ``instancegroup``), and its events reach the function as the stack
delivers them: S3 to EventBridge, the rule on ``*/config`` and ``*/instancegroup/*``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from spec_builders import spec
from support.served import ServedWorld as World
from support.served import served_world as make_world

from kops_iam.aws.audit import DetailType
from kops_iam.domain.state_store import instance_group_from_key, spec_key_for

BUCKET = "kops-state-store-layout"
CLUSTER = "layout.e2e.example.com"


def instance_group(name: str, role: str) -> bytes:
    return yaml.safe_dump(
        {
            "apiVersion": "kops.k8s.io/v1alpha2",
            "kind": "InstanceGroup",
            "metadata": {"name": name, "labels": {"kops.k8s.io/cluster": CLUSTER}},
            "spec": {"role": role, "machineType": "t3.medium", "minSize": 1, "maxSize": 1},
        }
    ).encode()


#: What kops keeps beside the spec and the InstanceGroups: never read by the function.
PRIVATE = {
    f"{CLUSTER}/cluster.spec": b"completed spec",
    f"{CLUSTER}/pki/private/ca/keyset.yaml": b"secret key material",
    f"{CLUSTER}/pki/private/instancegroup/keyset.yaml": b"a keyset named instancegroup",
    f"{CLUSTER}/secrets/admin": b"secret",
    f"{CLUSTER}/secrets/config": b"a secret named config",
    f"{CLUSTER}/addons/bootstrap-channel.yaml": b"addons",
}


class S3Reads:
    """Every S3 call the function's own client makes: (operation, key or prefix)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, params: dict[str, Any], model: Any, **_: Any) -> None:
        target = params.get("Key", params.get("Prefix", ""))
        with self._lock:
            self.calls.append((model.name, str(target)))


@pytest.fixture(scope="module")
def state_store() -> Iterator[tuple[World, S3Reads]]:
    """Given an existing state store whose events reach the runner through EventBridge."""
    for world in make_world(delivery="eventbridge", bucket=BUCKET):
        reads = S3Reads()
        client = world.runner.runtime.reconciler.source.client  # type: ignore[union-attr]
        client.meta.events.register("before-parameter-build.s3", reads)
        yield world, reads


def put(world: World, key: str, body: bytes) -> Any:
    since = len(world.runner.invocations)
    world.emulator.s3.put_object(Bucket=world.bucket, Key=key, Body=body)
    if spec_key_for(key) is None:
        return None  # the rule does not pass it on
    return world.runner.wait_for_key(key, 20.0, since=since)


def delete(world: World, key: str) -> Any:
    since = len(world.runner.invocations)
    world.emulator.s3.delete_object(Bucket=world.bucket, Key=key)
    return world.runner.wait_for_key(key, 20.0, since=since)


def test_a_bastion_instance_group_comes_and_goes_with_its_role(
    state_store: tuple[World, S3Reads],
) -> None:
    world, reads = state_store
    # Given a cluster laid out as kops lays it out: the private objects, its masters and
    # nodes InstanceGroups, then its Cluster at <cluster>/config
    for key, body in PRIVATE.items():
        put(world, key, body)
    put(world, f"{CLUSTER}/instancegroup/master-us-east-1a", instance_group("master-a", "Master"))
    put(world, f"{CLUSTER}/instancegroup/nodes", instance_group("nodes", "Node"))
    applied = put(world, f"{CLUSTER}/config", spec(CLUSTER))
    assert applied.ok
    assert world.roles(CLUSTER) == {f"masters.{CLUSTER}", f"nodes.{CLUSTER}"}
    world.audit(CLUSTER)  # (the InstanceGroups' events before the config found no cluster)

    # When a bastion InstanceGroup is added to the state store
    added = put(world, f"{CLUSTER}/instancegroup/bastions", instance_group("bastions", "Bastion"))

    # Then its event reconciled the cluster, which now has a bastions role
    assert added.ok and [o["key"] for o in added.outcomes] == [f"{CLUSTER}/config"]
    assert world.roles(CLUSTER) == {
        f"masters.{CLUSTER}",
        f"nodes.{CLUSTER}",
        f"bastions.{CLUSTER}",
    }
    [created] = world.audit(CLUSTER)
    assert created["detail-type"] == DetailType.SPEC_APPLIED
    [change] = created["detail"]["changes"]
    assert (change["kind"], change["action"]) == ("bastion", "create")
    policy = world.inline(f"bastions.{CLUSTER}")[f"bastions.{CLUSTER}"]
    assert policy["Statement"][0]["Action"] == ["ec2:DescribeRegions"]

    # When the bastion InstanceGroup is deleted
    removed = delete(world, f"{CLUSTER}/instancegroup/bastions")

    # Then the bastions role and its instance profile are gone, the others stay
    assert removed.ok
    assert world.roles(CLUSTER) == {f"masters.{CLUSTER}", f"nodes.{CLUSTER}"}
    [deleted] = world.audit(CLUSTER)
    assert deleted["detail-type"] == DetailType.SPEC_APPLIED
    assert [(c["kind"], c["action"]) for c in deleted["detail"]["changes"]] == [
        ("bastion", "delete")
    ]
    profiles = world.emulator.iam.list_instance_profiles()["InstanceProfiles"]
    assert f"bastions.{CLUSTER}" not in {p["InstanceProfileName"] for p in profiles}

    # And the function's S3 reads were only the cluster's config and InstanceGroups
    counted = _counted(reads.calls)
    assert counted["HeadObject"] and counted["GetObject"] and counted["ListObjectsV2"]
    for operation, target in reads.calls:
        if operation == "ListObjectsV2":
            assert target == f"{CLUSTER}/instancegroup/", (operation, target)
        else:
            assert operation in ("HeadObject", "GetObject"), operation
            assert target == f"{CLUSTER}/config" or instance_group_from_key(target), target
    read_keys = {target for operation, target in reads.calls if operation == "GetObject"}
    assert not read_keys & set(PRIVATE)
    # (the figures, for the record: test output shows them with -s)
    print(json.dumps(counted))


def _counted(calls: list[tuple[str, str]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for operation, _ in calls:
        found[operation] = found.get(operation, 0) + 1
    return found
