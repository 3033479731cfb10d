"""Builders for spec documents in tests (Given ... a spec with ...)."""

from __future__ import annotations

import copy
from typing import Any


def cluster_doc(name: str = "test.k8s.example.com", **spec: Any) -> dict[str, Any]:
    """A minimal valid v1alpha2 cluster document; ``spec`` keys override or add fields."""
    body: dict[str, Any] = {
        "cloudProvider": "aws",
        "networkCIDR": "10.0.0.0/16",
        "networkID": "vpc-0a1b2c3d",
        "subnets": [
            {"name": "a", "zone": "eu-west-1a", "cidr": "10.0.32.0/19"},
            {"name": "b", "zone": "eu-west-1b", "cidr": "10.0.64.0/19"},
        ],
    }
    for key, value in spec.items():
        if value is None:
            body.pop(key, None)
        else:
            body[key] = copy.deepcopy(value)
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "Cluster",
        "metadata": {"name": name},
        "spec": body,
    }


def etcd(*members: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"name": "main", "etcdMembers": [dict(name=f"m{i}", **m) for i, m in enumerate(members)]}
    ]
