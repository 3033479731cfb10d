"""The computed result: which roles, instance profiles and policies a cluster must have.

Plain frozen data. ``to_dict`` is the ``kops-iam render`` JSON contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

JSONDict = dict[str, Any]
RoleKind = Literal["master", "node", "bastion"]
ROLE_KINDS: tuple[RoleKind, ...] = ("master", "node", "bastion")


@dataclass(frozen=True)
class RolePlan:
    """Everything IAM must hold for one role of one cluster."""

    kind: RoleKind
    role_name: str
    instance_profile_name: str
    assume_role_policy: JSONDict
    permissions_boundary: str | None
    tags: Mapping[str, str]
    managed_policy_arns: tuple[str, ...]
    #: inline policy name -> policy document, the main policy first, ``additional.*`` second.
    inline_policies: Mapping[str, JSONDict]

    def to_dict(self) -> JSONDict:
        return {
            "roleName": self.role_name,
            "instanceProfileName": self.instance_profile_name,
            "assumeRolePolicy": self.assume_role_policy,
            "permissionsBoundary": self.permissions_boundary,
            "tags": dict(self.tags),
            "managedPolicyArns": list(self.managed_policy_arns),
            "inlinePolicies": dict(self.inline_policies),
        }


@dataclass(frozen=True)
class ClusterPlan:
    """The roles of one cluster, keyed by kind (``master``, ``node``, optional ``bastion``)."""

    cluster: str
    partition: str
    region: str
    warnings: tuple[str, ...]
    roles: Mapping[RoleKind, RolePlan]
    #: ``legacy`` (the kops page's policies) or ``strict`` (kops 1.8.0's), docs/adr/0091.
    iam_mode: Literal["legacy", "strict"] = "legacy"

    def to_dict(self) -> JSONDict:
        return {
            "cluster": self.cluster,
            "partition": self.partition,
            "region": self.region,
            "iamMode": self.iam_mode,
            "warnings": list(self.warnings),
            "roles": {
                kind: self.roles[kind].to_dict() for kind in ROLE_KINDS if kind in self.roles
            },
        }
