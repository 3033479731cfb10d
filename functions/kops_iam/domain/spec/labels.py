"""``cloudLabels``: the tags every role carries, within IAM's tag limits."""

from __future__ import annotations

import re
from typing import Final

from kops_iam.domain.errors import join_path
from kops_iam.domain.naming import OWN_TAG_KEYS
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.model import CLUSTER_TAG_PREFIX

MAX_TAGS_PER_ROLE: Final = 50

_TAG_CHARS = re.compile(r"^[\w .:/=+@-]*$", re.UNICODE)
_RESERVED_TAG_KEYS: Final = ("Name", "KubernetesCluster")
_RESERVED_TAG_PREFIXES: Final = ("aws:", CLUSTER_TAG_PREFIX, "kops-iam/")


def cloud_labels(checks: SpecChecks) -> dict[str, str]:
    """``cloudLabels`` as tags: valid keys and values, none reserved, within the tag count."""
    labels: dict[str, str] = checks.fields.get("cloudLabels") or {}
    for key, value in labels.items():
        path = join_path("spec.cloudLabels", key)
        if not 1 <= len(key) <= 128 or not _TAG_CHARS.match(key):
            checks.error(path, "a tag key is 1-128 letters, digits, spaces or _.:/=+-@")
        elif key in _RESERVED_TAG_KEYS or key.startswith(_RESERVED_TAG_PREFIXES):
            checks.error(path, "reserved: kops-iam sets this tag itself (or AWS owns the prefix)")
        if len(value) > 256 or not _TAG_CHARS.match(value):
            checks.error(path, "a tag value is at most 256 letters, digits, spaces or _.:/=+-@")
    # Name, KubernetesCluster, kubernetes.io/cluster/<name>, and kops-iam's own tags
    reserved = 3 + len(OWN_TAG_KEYS)
    if len(labels) + reserved > MAX_TAGS_PER_ROLE:
        checks.error(
            "spec.cloudLabels",
            f"{len(labels)} labels; with the {reserved} tags "
            f"kops-iam sets, a role holds at most {MAX_TAGS_PER_ROLE}",
        )
    return dict(sorted(labels.items()))
