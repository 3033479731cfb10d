"""Spec documents for tests of every layer: one minimal valid cluster, extended per test."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

#: The sample specs (valid ones; invalid ones under ``invalid/``).
SAMPLES = Path(__file__).resolve().parents[1] / "events" / "specs"

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


def spec(
    cluster: str = "c1.k8s.example.com",
    *,
    additional: dict[str, list[dict[str, Any]]] | None = None,
    external: dict[str, list[str]] | None = None,
    labels: dict[str, str] | None = None,
    boundary: str | None = None,
    bastion: bool = False,
    kms_key: str | None = None,
    **extra: Any,
) -> str:
    """A valid spec (JSON, which is YAML too) with the given extras; ``extra`` sets any
    other spec field (``externalPolicies={...}``)."""
    body: dict[str, Any] = dict(extra)
    if additional:
        body["additionalPolicies"] = {role: json.dumps(stmts) for role, stmts in additional.items()}
    if external:
        body["externalPolicies"] = external
    if labels:
        body["cloudLabels"] = labels
    if boundary:
        body["iam"] = {"legacy": True, "permissionsBoundary": boundary}
    if bastion:
        body["topology"] = {"masters": "private", "nodes": "private", "bastion": {}}
    if kms_key:
        body["etcdClusters"] = [
            {
                "name": "main",
                "etcdMembers": [{"name": "a", "encryptedVolume": True, "kmsKeyId": kms_key}],
            }
        ]
    return cluster_json(cluster, **body)


def allow(*actions: str, resource: str = "*", sid: str | None = None) -> dict[str, Any]:
    """An Allow statement on ``actions`` (one resource)."""
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": [resource]}
    if sid:
        statement["Sid"] = sid
    return statement


def spec_text(name: str) -> str:
    """Text of a sample spec in ``events/specs``."""
    return (SAMPLES / name).read_text()
