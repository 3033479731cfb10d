"""Spec variants for the AWS benchmarks: renamed copies and one-policy edits of the samples."""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from bench.machine import SPECS_DIR

#: Samples the AWS benchmarks use: the kops documentation example (two roles) and the one
#: with every feature (three roles, every additional policy, external policy, boundary).
SMALL = "kops-page-example.yaml"
FULL = "bastion-all-roles.yaml"
_ARN = re.compile(r"arn:aws:iam::\d{12}:policy/[\w+=,.@/-]+")


@cache
def sample(name: str) -> str:
    return (Path(SPECS_DIR) / name).read_text()


def cluster_name(text: str) -> str:
    """``metadata.name`` of a spec."""
    name: str = yaml.safe_load(text)["metadata"]["name"]
    return name


def renamed(text: str, cluster: str) -> bytes:
    """The spec for another cluster (every mention of the name replaced)."""
    return text.replace(cluster_name(text), cluster).encode()


def managed_policy_arns(text: str) -> list[str]:
    """Customer managed policy ARNs a spec names (they must exist before it is applied)."""
    return sorted(set(_ARN.findall(text)))


def one_policy_changed(text: str, cluster: str, action: str = "s3:GetObjectVersion") -> bytes:
    """The spec for ``cluster`` with one action added to the node's additional policy."""
    doc: dict[str, Any] = yaml.safe_load(renamed(text, cluster))
    policies = doc["spec"]["additionalPolicies"]
    statements = json.loads(policies["node"])
    first = next(s for s in statements if s.get("Effect") == "Allow")
    actions = first["Action"] if isinstance(first["Action"], list) else [first["Action"]]
    first["Action"] = [*actions, action]
    policies["node"] = json.dumps(statements, indent=2)
    return yaml.safe_dump(doc, sort_keys=False).encode()
