"""Ownership, property-based (issue 10): no reconcile of key K ever writes or deletes a role,
instance profile or policy that is not owned by K's cluster.

For arbitrary sets of clusters - engineered truncation collisions included (pairs whose
node, master or bastion role names coincide, found by brute force in ``collisions``) - and
arbitrary orders and duplicates of create, update and delete events and scheduled runs,
on moto with roles already there (kops' own, and roles kops-iam made before the cluster
tag and the managed path, for a cluster or, after the old flip-flop, for its colliding
twin), every IAM write the function sends is checked *before* moto applies it (a botocore
hook on the wire, IAM read through a client off the wire):

* a create carries ``kops-iam/cluster=<K's cluster>``, under ``/kops-iam/``, for a name
  that does not exist;
* any other write names a role and/or instance profile that exists only if it is owned
  by K's cluster (``kops-iam/cluster``, or kops' ``KubernetesCluster`` on a role kops-iam
  made before that tag) at a path the operator lets the function write; a tag write never
  names another cluster.

After every invocation: every resource that names an owner still names the same one,
and kops' own roles are exactly as they were.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from typing import Any

import pytest
import rel_scenarios
import rel_support
import support.world as W
from collisions import colliding_pair
from hypothesis import given, settings
from hypothesis import strategies as st
from support.wire import READ_PREFIXES, describe_write

from kops_iam.application.settings import Settings
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROOT_PATH,
    role_name,
)
from kops_iam.domain.ownership import owner_of
from kops_iam.domain.state_store import cluster_from_key

PART = "ownership"
PROFILE = "reliability-long" if rel_support.LONG else "reliability-fast"
CASES = rel_support.budget(12, 200)
MAX_STEPS = rel_support.budget(6, 14)

#: Colliding pairs per role kind, and clusters colliding with nobody.
PAIRS = {kind: colliding_pair(kind) for kind in ("node", "master", "bastion")}
PLAIN = ("a.k8s.example.com", "b.k8s.example.com")
POOL = tuple(sorted({*PLAIN, *(c for pair in PAIRS.values() for c in pair)}))


# -- what happens ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Preexisting:
    """A role (and profile) already in IAM: ``kind`` of ``cluster``, made by ``maker``."""

    cluster: str
    kind: str
    maker: str  # "kops" (no ownership tag), "old-kops-iam" (path /, no cluster tag)
    owner: str  # the cluster its tags name


@dataclass(frozen=True)
class Story:
    clusters: tuple[str, ...]
    preexisting: tuple[Preexisting, ...]
    manage_root_path: bool
    steps: tuple[tuple[Any, ...], ...]


@st.composite
def stories(draw: st.DrawFn) -> Story:
    kinds = draw(st.lists(st.sampled_from(sorted(PAIRS)), min_size=1, max_size=3, unique=True))
    clusters = {c for kind in kinds for c in PAIRS[kind]}  # at least one colliding pair
    clusters |= set(draw(st.lists(st.sampled_from(POOL), max_size=2)))
    ordered = tuple(sorted(clusters))
    preexisting: list[Preexisting] = []
    for _ in range(draw(st.integers(0, 2))):
        cluster = draw(st.sampled_from(ordered))
        kind = draw(st.sampled_from(["master", "node"]))
        maker = draw(st.sampled_from(["kops", "old-kops-iam"]))
        # after the old flip-flop, a role of cluster X may name its colliding twin
        twins = [c for pair in PAIRS.values() for c in pair if cluster in pair and c != cluster]
        owner = draw(st.sampled_from([cluster, *twins]))
        if all(
            p.kind != kind or role_name(kind, p.cluster) != role_name(kind, cluster)
            for p in preexisting
        ):
            preexisting.append(Preexisting(cluster, kind, maker, owner))
    step = st.one_of(
        st.tuples(st.just("put"), st.sampled_from(ordered), st.sampled_from([1, 2])),
        st.tuples(st.just("delete"), st.sampled_from(ordered)),
        st.tuples(st.just("redeliver"), st.integers(0, 50)),
        st.tuples(st.just("schedule")),
    )
    # Both clusters of each colliding pair are uploaded (in a drawn order) before anything
    # else happens, so every story has a collision to get wrong; then anything goes.
    colliding = draw(st.permutations([c for kind in kinds for c in PAIRS[kind]]))
    first: list[tuple[Any, ...]] = [
        ("put", cluster, draw(st.sampled_from([1, 2]))) for cluster in colliding
    ]
    steps = draw(st.lists(step, min_size=1, max_size=MAX_STEPS))
    return Story(ordered, tuple(preexisting), draw(st.booleans()), (*first, *steps))


# -- the guard on the wire ------------------------------------------------------------------


@dataclass
class Guard:
    """Checks every IAM write against IAM's state just before moto applies it."""

    iam: Any
    writable: tuple[str, ...]
    local: threading.local = field(default_factory=threading.local)
    violations: list[str] = field(default_factory=list)
    checked: int = 0

    def _resource(self, kind: str, name: str) -> tuple[dict[str, str], str] | None:
        try:
            if kind == "role":
                data = self.iam.get_role(RoleName=name)["Role"]
            else:
                data = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        return {t["Key"]: t["Value"] for t in data.get("Tags", [])}, data.get("Path", "/")

    def observe(self, service: str, operation: str, params: dict[str, Any]) -> None:
        if service != "iam" or operation.startswith(READ_PREFIXES):
            return
        cluster = getattr(self.local, "cluster", None)
        what = f"{cluster}: {operation} {describe_write(operation, params)}"
        self.checked += 1
        if cluster is None:
            self.violations.append(f"IAM write outside any reconcile: {what}")
            return
        if operation in ("CreateRole", "CreateInstanceProfile"):
            kind = "role" if operation == "CreateRole" else "profile"
            name = params.get("RoleName") or params["InstanceProfileName"]
            tags = {t["Key"]: t["Value"] for t in params.get("Tags", [])}
            if tags.get(CLUSTER_TAG_KEY) != cluster or owner_of(tags) != cluster:
                self.violations.append(f"created without its cluster's tag: {what}")
            if params.get("Path") != MANAGED_PATH:
                self.violations.append(f"created outside {MANAGED_PATH}: {what}")
            if self._resource(kind, name) is not None:
                self.violations.append(f"created over an existing {kind}: {what}")
            return
        for kind, key in (("role", "RoleName"), ("profile", "InstanceProfileName")):
            if key not in params:
                continue
            found = self._resource(kind, params[key])
            if found is None:
                continue  # gone meanwhile: the call fails with NoSuchEntity, nothing written
            tags, path = found
            if owner_of(tags) != cluster:
                self.violations.append(f"{kind} owned by {owner_of(tags)!r}: {what}")
            elif path not in self.writable:
                self.violations.append(f"{kind} at path {path}: {what}")
        for tag in params.get("Tags", []):
            if tag["Key"] in (CLUSTER_TAG_KEY, "KubernetesCluster") and tag["Value"] != cluster:
                self.violations.append(f"tags another cluster: {what}")
        if set(params.get("TagKeys", [])) & {OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY}:
            self.violations.append(f"removes an ownership tag: {what}")


def _owners(iam: Any) -> dict[str, str | None]:
    """Every role and profile that names an owner -> that owner; kops' own -> None."""
    owners: dict[str, str | None] = {}
    for role in iam.list_roles()["Roles"]:
        tags = {
            t["Key"]: t["Value"]
            for t in iam.get_role(RoleName=role["RoleName"])["Role"].get("Tags", [])
        }
        owners[f"role:{role['RoleName']}"] = owner_of(tags)
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        tags = {t["Key"]: t["Value"] for t in profile.get("Tags", [])}
        owners[f"profile:{profile['InstanceProfileName']}"] = owner_of(tags)
    return owners


def _kops_roles(iam: Any, names: list[str]) -> dict[str, Any]:
    """kops' own roles, whole (trust, tags, inline policies, profile membership)."""
    state: dict[str, Any] = {}
    for name in names:
        role = iam.get_role(RoleName=name)["Role"]
        policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
        profiles = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
        state[name] = {
            "tags": sorted((t["Key"], t["Value"]) for t in role.get("Tags", [])),
            "trust": role["AssumeRolePolicyDocument"],
            "inline": {
                p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                for p in policies
            },
            "profiles": sorted(p["InstanceProfileName"] for p in profiles),
        }
    return state


def _make(world: W.World, item: Preexisting) -> None:
    name = role_name(item.kind, item.cluster)  # type: ignore[arg-type]
    tags = {"KubernetesCluster": item.owner, f"kubernetes.io/cluster/{item.owner}": "owned"}
    if item.maker == "old-kops-iam":
        tags[OWNERSHIP_TAG_KEY] = OWNERSHIP_TAG_VALUE
    listed = [{"Key": k, "Value": v} for k, v in tags.items()]
    trust = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "ec2.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    iam = world.inspect_iam
    iam.create_role(RoleName=name, Path=ROOT_PATH, AssumeRolePolicyDocument=trust, Tags=listed)
    iam.put_role_policy(
        RoleName=name,
        PolicyName=name,
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "ec2:Describe*", "Resource": "*"}],
            }
        ),
    )
    iam.create_instance_profile(InstanceProfileName=name, Path=ROOT_PATH, Tags=listed)
    iam.add_role_to_instance_profile(InstanceProfileName=name, RoleName=name)


@pytest.mark.usefixtures("no_backoff_sleep", "quiet_kops_iam_logs")
@settings(settings.get_profile(PROFILE), max_examples=CASES)
@given(story=stories())
def test_no_reconcile_writes_what_its_cluster_does_not_own(story: Story) -> None:
    settings_ = Settings(
        bucket=W.BUCKET,
        bus_name=W.BUS,
        manage_root_path_roles=story.manage_root_path,
        drift_threads=1,
    ).with_account(W.ACCOUNT)
    with rel_scenarios.world(settings_, kms_key=False) as world:
        for item in story.preexisting:
            _make(world, item)
        kops_made = [
            role_name(p.kind, p.cluster)  # type: ignore[arg-type]
            for p in story.preexisting
            if p.maker == "kops"
        ]
        kops_before = _kops_roles(world.inspect_iam, kops_made)
        writable = (MANAGED_PATH, ROOT_PATH) if story.manage_root_path else (MANAGED_PATH,)
        guard = Guard(world.inspect_iam, writable)
        runtime = world.runtime()
        reconciler = runtime.reconciler
        original = reconciler.reconcile_key

        def reconcile_key(key: str, **kwargs: Any) -> Any:
            guard.local.cluster = cluster_from_key(key)
            try:
                return original(key, **kwargs)
            finally:
                guard.local.cluster = None

        reconciler.reconcile_key = reconcile_key  # type: ignore[method-assign]
        world.wire.observer = guard.observe
        sent: list[dict[str, Any]] = []
        owners = _owners(world.inspect_iam)
        try:
            for step in story.steps:
                if step[0] == "put":
                    cluster, version = step[1], step[2]
                    body = rel_scenarios.spec(cluster, version, kms=False)
                    event = W.object_event(world.key(cluster), world.upload_version(cluster, body))
                elif step[0] == "delete":
                    world.delete(step[1])
                    event = W.object_event(world.key(step[1]), None, deleted=True)
                elif step[0] == "redeliver" and sent:
                    event = sent[step[1] % len(sent)]
                else:
                    event = W.scheduled_event()
                sent.append(event)
                invocations = [world.invoke(event, runtime)]
                if event.get("detail-type") == "Scheduled Event":
                    # a drift period: the schedule queued the checks; the queue hands them
                    # to the function (docs/adr/0110)
                    invocations += world.drift_checks(runtime)
                for invocation in invocations:
                    rel_support.record(PART, "invocations")
                    for audit in invocation.audit:
                        detail = audit["detail"]
                        if detail.get("reason") in ("name-collision", "root-path", "foreign-role"):
                            rel_support.record(PART, f"rejected.{detail['reason']}")
                        for change in detail.get("changes", []):
                            if change.get("action") == "skip":
                                rel_support.record(PART, "deletions_skipping_a_role_not_theirs")
                    assert invocation.raised is None, (step, invocation.raised)
                    assert not (invocation.summary or {}).get("batchItemFailures"), step
                assert not guard.violations, (step, guard.violations)
                # Then every resource that named an owner still names the same one
                now = _owners(world.inspect_iam)
                for resource, owner in owners.items():
                    if resource in now and owner is not None:
                        assert now[resource] == owner, (step, resource, owner, now[resource])
                owners = now
            # And kops' own roles are exactly as they were
            assert _kops_roles(world.inspect_iam, kops_made) == kops_before
        finally:
            world.wire.observer = None
        assert not world.wire.observer_errors, world.wire.observer_errors
    rel_support.record(PART, "stories")
    rel_support.record(PART, "clusters", len(story.clusters))
    rel_support.record(PART, "steps", len(story.steps))
    rel_support.record(PART, "iam_writes_checked", guard.checked)
    rel_support.record(PART, "preexisting_roles", len(story.preexisting))


def test_the_guard_sees_a_write_on_another_clusters_role() -> None:
    """The property is not vacuous: a write on V's role inside A's reconcile is a violation."""
    first, second = PAIRS["node"]
    with rel_scenarios.world(kms_key=False) as world:
        world.upload(first, rel_scenarios.spec(first, 2, kms=False))
        invocation = world.invoke(W.object_event(world.key(first), None))
        assert invocation.raised is None
        guard = Guard(world.inspect_iam, (MANAGED_PATH,))
        guard.local.cluster = second
        shared = role_name("node", first)
        guard.observe("iam", "PutRolePolicy", {"RoleName": shared, "PolicyName": "x"})
        guard.observe(
            "iam",
            "TagRole",
            {"RoleName": shared, "Tags": [{"Key": CLUSTER_TAG_KEY, "Value": second}]},
        )
        guard.observe(
            "iam",
            "CreateRole",
            {"RoleName": shared, "Path": "/", "Tags": [{"Key": CLUSTER_TAG_KEY, "Value": first}]},
        )
        assert len(guard.violations) == 5, guard.violations
