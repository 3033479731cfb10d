"""Spec documents for tests of every layer: one minimal valid cluster, extended per test."""

from __future__ import annotations

import copy
import json
from typing import Any

#: The smallest valid v1alpha2 cluster spec body (two subnets in eu-west-1).
BASE_SPEC: dict[str, Any] = {
    "cloudProvider": "aws",
    "networkCIDR": "10.0.0.0/16",
    "networkID": "vpc-0a1b2c3d",
    "subnets": [
        {"name": "a", "zone": "eu-west-1a", "cidr": "10.0.32.0/19"},
        {"name": "b", "zone": "eu-west-1b", "cidr": "10.0.64.0/19"},
    ],
}


def cluster_doc(name: str = "test.k8s.example.com", **spec: Any) -> dict[str, Any]:
    """A valid cluster document; ``spec`` keys override or add fields (``None`` removes one)."""
    body = copy.deepcopy(BASE_SPEC)
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


def cluster_json(name: str, **spec: Any) -> str:
    """:func:`cluster_doc` as JSON text (which is YAML too), as uploaded to the bucket."""
    return json.dumps(cluster_doc(name, **spec), indent=1)
