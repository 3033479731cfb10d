"""Reading IAM's state back, the same way in every world (in-process or served)."""

from __future__ import annotations

import json
from typing import Any

ROLE_PREFIXES = ("masters.", "nodes.", "bastions.")


def role_names(iam: Any) -> set[str]:
    names: set[str] = set()
    for page in iam.get_paginator("list_roles").paginate():
        names.update(r["RoleName"] for r in page["Roles"])
    return names


def cluster_roles(iam: Any, cluster: str) -> set[str]:
    """The roles named after ``cluster`` (``<kind>.<cluster>``)."""
    return {name for name in role_names(iam) if name.endswith(f".{cluster}")}


def inline(iam: Any, role: str) -> dict[str, Any]:
    """A role's inline policies, name -> document."""
    return {
        name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    }


def tags(iam: Any, role: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in iam.get_role(RoleName=role)["Role"].get("Tags", [])}


def snapshot(iam: Any) -> dict[str, Any]:
    """Everything IAM holds that the reconciler manages, every role (to prove nothing
    changed): trust, tags, boundary, inline and managed policies, instance profiles."""
    state: dict[str, Any] = {}
    for role in sorted(role_names(iam)):
        data = iam.get_role(RoleName=role)["Role"]
        state[role] = {
            "trust": data["AssumeRolePolicyDocument"],
            "tags": tags(iam, role),
            "boundary": data.get("PermissionsBoundary"),
            "inline": inline(iam, role),
            "managed": sorted(
                p["PolicyArn"]
                for p in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
            ),
        }
    for profile in iam.list_instance_profiles()["InstanceProfiles"]:
        state[f"profile:{profile['InstanceProfileName']}"] = [
            r["RoleName"] for r in profile["Roles"]
        ]
    return state


def cluster_state(iam: Any, cluster: str) -> dict[str, Any]:
    """What IAM holds for one cluster, comparable across clusters: ids and dates left out,
    the cluster's name replaced by ``<cluster>``."""
    state: dict[str, Any] = {}
    for prefix in ROLE_PREFIXES:
        name = prefix + cluster
        try:
            data = iam.get_role(RoleName=name)["Role"]
        except iam.exceptions.NoSuchEntityException:
            data = None
        try:
            profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
            state[f"profile:{prefix}"] = sorted(r["RoleName"] for r in profile["Roles"])
        except iam.exceptions.NoSuchEntityException:
            pass
        if data is None:
            continue
        state[f"role:{prefix}"] = {
            "path": data.get("Path"),
            "trust": data["AssumeRolePolicyDocument"],
            "tags": {t["Key"]: t["Value"] for t in data.get("Tags", [])},
            "boundary": data.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
            "inline": dict(sorted(inline(iam, name).items())),
            "managed": sorted(
                p["PolicyArn"]
                for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
            ),
        }
    normalized: dict[str, Any] = json.loads(
        json.dumps(state, sort_keys=True).replace(cluster, "<cluster>")
    )
    return normalized
