"""Which roles a cluster has (docs/adr/0090).

kops makes one IAM role per InstanceGroup role (``Master``, ``Node``, ``Bastion``), so the
InstanceGroups decide. kops also refuses a cluster without a Master and a Node InstanceGroup
(``must configure at least one Master InstanceGroup``), so every cluster kops runs has
masters and nodes: kops-iam always makes those two, whatever InstanceGroups an input holds
(a state store being written, a file holding only some groups, a Cluster given one extra
group), and never deletes a role a running cluster uses for lack of a group.

The bastion role exists when an InstanceGroup has ``role: Bastion``. A Cluster alone (no
InstanceGroup: the shape kops' IAM page documents, and a bucket holding only
``<cluster>/config``) says what ``kops create cluster --bastion`` wrote next to its bastion
group: ``topology.bastion.enable: true`` in v1alpha1 (and in a document without
``apiVersion``, which kops 1.5 to 1.17 read as v1alpha1; ``enable`` defaults to false),
``topology.bastion`` in v1alpha2 and v1alpha3 (where an ``enable`` written anyway decides).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kops_iam.domain.model import RoleKind
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.documents import InstanceGroup


def declared_bastion(checks: SpecChecks, net: dict[str, Any]) -> tuple[str, bool] | None:
    """``(path, declared)`` when the Cluster's topology speaks of a bastion, else ``None``."""
    topology = net.get("topology")
    if topology is None or topology[1].bastion is None:
        return None
    path = f"{topology[0]}.bastion"
    bastion: Mapping[str, Any] = topology[1].bastion
    if "enable" in bastion:
        enable = bastion["enable"]
        if not isinstance(enable, bool):
            checks.error(f"{path}.enable", f"{enable!r} is not true or false")
            return path, False
        return path, enable
    api = checks.doc.get("apiVersion")
    if api is None or (isinstance(api, str) and api.endswith("/v1alpha1")):
        # v1alpha1 (which kops 1.5 to 1.17 read a document without apiVersion as): enable
        # defaults to false
        return path, False
    return path, True


def roles(
    checks: SpecChecks,
    net: dict[str, Any],
    instance_groups: Sequence[InstanceGroup],
    additional: Mapping[RoleKind, object],
    external: Mapping[RoleKind, object],
) -> tuple[RoleKind, ...]:
    """The cluster's roles: masters, nodes, and bastions when it has one."""
    declared = declared_bastion(checks, net)
    if instance_groups:
        bastion = any(group.role == "bastion" for group in instance_groups)
        if declared is not None and declared[1] and not bastion:
            checks.warn(
                declared[0],
                "declares a bastion, but no InstanceGroup has role: Bastion, so kops made no "
                "bastion and kops-iam makes no bastions role",
            )
    else:
        bastion = declared is not None and declared[1]
    if not bastion:
        for field_name, given in (
            ("additionalPolicies", additional),
            ("externalPolicies", external),
        ):
            if "bastion" in given:
                checks.warn(
                    f"spec.{field_name}.bastion",
                    "the cluster has no bastion (no InstanceGroup with role: Bastion, no "
                    "topology.bastion), so kops made no bastions role to carry it; ignored",
                )
    return ("master", "node", "bastion") if bastion else ("master", "node")
