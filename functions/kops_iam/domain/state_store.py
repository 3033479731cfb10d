"""The kops state-store layout: which object keys kops-iam reads, and of which cluster.

A kops state store keeps, per cluster (docs/adr/0093)::

    <cluster>/config                     the Cluster            read
    <cluster>/instancegroup/<name>       each InstanceGroup     read
    <cluster>/cluster.spec               the completed spec     never read
    <cluster>/pki/...                    keys and certificates  never read
    <cluster>/secrets/...                secrets                never read
    <cluster>/addons/...                 addon manifests        never read

Reconciling a cluster reads its ``config`` and lists and reads its ``instancegroup/``
objects (bounded: :data:`MAX_INSTANCE_GROUPS`, :data:`MAX_INSTANCE_GROUP_BYTES`); an event on
either kind of key reconciles the cluster (:func:`spec_key_for`).
"""

from __future__ import annotations

import re
from typing import Final

#: kops state-store layout: the cluster spec lives at ``<cluster name>/config``.
SPEC_KEY_SUFFIX: Final = "/config"
SPEC_KEY_PATTERN: Final = re.compile(r"^(?P<cluster>[^/]+)/config$")
#: ... and each InstanceGroup at ``<cluster name>/instancegroup/<name>``.
INSTANCE_GROUP_DIRECTORY: Final = "instancegroup"
INSTANCE_GROUP_KEY_PATTERN: Final = re.compile(
    r"^(?P<cluster>[^/]+)/instancegroup/(?P<name>[^/]+)$"
)
#: The state-store prefixes that hold keys, secrets and addons: never readable by the
#: function (its policy denies them, docs/adr/0093).
PRIVATE_DIRECTORIES: Final = ("pki", "secrets", "addons")

#: Most InstanceGroups read for one cluster (kops clusters have a handful to a few dozen).
MAX_INSTANCE_GROUPS: Final = 100
#: Most bytes of InstanceGroup objects read for one cluster, all together (each is a few
#: hundred bytes; each also stays under the spec object cap).
MAX_INSTANCE_GROUP_BYTES: Final = 4 * 1024 * 1024


def cluster_from_key(key: str) -> str | None:
    """Return the cluster segment of a spec key, or ``None`` when the key is not a spec."""
    match = SPEC_KEY_PATTERN.match(key)
    return match.group("cluster") if match else None


def instance_group_from_key(key: str) -> tuple[str, str] | None:
    """``(cluster, name)`` of an InstanceGroup key, or ``None`` when the key is not one."""
    match = INSTANCE_GROUP_KEY_PATTERN.match(key)
    return (match.group("cluster"), match.group("name")) if match else None


def instance_group_prefix(cluster: str) -> str:
    """The key prefix of a cluster's InstanceGroup objects."""
    return f"{cluster}/{INSTANCE_GROUP_DIRECTORY}/"


def spec_key_for(key: str) -> str | None:
    """The ``<cluster>/config`` key an event on ``key`` is about (its own, or its
    InstanceGroup's cluster's), or ``None`` when kops-iam does not read ``key``."""
    if cluster_from_key(key):
        return key
    group = instance_group_from_key(key)
    return f"{group[0]}{SPEC_KEY_SUFFIX}" if group else None
