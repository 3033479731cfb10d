"""A worst-case spec for decision speed: every role's inline policies just under IAM's limit.

A private cluster with a bastion, encrypted etcd, cloud labels, external policies and an
``additionalPolicies`` entry for each role, grown statement by statement until each role's
inline policies (whitespace not counted, as IAM counts) sit just under 10,240 characters.
Every statement carries several actions, ARNs and a condition, so every check of the
statement validator runs. Built once per run with the domain core's own size function.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import yaml

from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec
from kops_iam.domain.policy import MAX_INLINE_POLICY_CHARS, policy_size

CLUSTER = "worst-case.k8s.example.com"
ACCOUNT = "123456789012"
OPTIONS = Options(account_id=ACCOUNT)
#: How close to the limit each role must come (characters IAM counts).
SLACK = 64

_ACTIONS = (
    "s3:GetObject",
    "s3:PutObject",
    "dynamodb:GetItem",
    "dynamodb:Query",
    "sqs:SendMessage",
    "sqs:ReceiveMessage",
)
_ROLE_KEYS = {"master": "control-plane", "node": "node", "bastion": "bastion"}


def _statement(kind: str, index: int, sid_pad: int = 0) -> dict[str, Any]:
    return {
        "Sid": f"Bench{kind.capitalize()}{index:03d}" + "X" * sid_pad,
        "Effect": "Allow" if index % 5 else "Deny",
        "Action": list(_ACTIONS[index % 3 : index % 3 + 4]),
        "Resource": [
            f"arn:aws:s3:::bench-artifacts-{index:03d}/{kind}/*",
            f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/bench-{index:03d}",
            f"arn:aws:sqs:eu-west-1:{ACCOUNT}:bench-{kind}-{index:03d}",
        ],
        "Condition": {"StringEquals": {"aws:RequestedRegion": ["eu-west-1", "eu-central-1"]}},
    }


def _document(statements: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    key_arn = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    etcd = [
        {
            "name": name,
            "etcdMembers": [
                {
                    "name": zone,
                    "instanceGroup": f"master-eu-west-1{zone}",
                    "encryptedVolume": True,
                    "kmsKeyId": key_arn,
                }
                for zone in "abc"
            ],
        }
        for name in ("main", "events")
    ]
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "Cluster",
        "metadata": {"name": CLUSTER},
        "spec": {
            "cloudProvider": "aws",
            "configBase": f"s3://bench-kops-state/{CLUSTER}",
            "networkCIDR": "10.40.0.0/16",
            "networkID": "vpc-0b1c2d3e4f5a6b7c8",
            "nonMasqueradeCIDR": "100.64.0.0/10",
            "kubernetesVersion": "1.28.4",
            "subnets": [
                {
                    "name": f"eu-west-1{z}",
                    "zone": f"eu-west-1{z}",
                    "cidr": f"10.40.{32 * i}.0/19",
                    "type": "Private",
                }
                for i, z in enumerate("abc", start=1)
            ]
            + [
                {
                    "name": "utility-eu-west-1a",
                    "zone": "eu-west-1a",
                    "cidr": "10.40.0.0/22",
                    "type": "Utility",
                }
            ],
            "topology": {
                "masters": "private",
                "nodes": "private",
                "bastion": {"bastionPublicName": f"bastion.{CLUSTER}"},
            },
            "etcdClusters": etcd,
            "cloudLabels": {f"label-{i}": f"value-{i}" for i in range(10)},
            "externalPolicies": {"node": [f"arn:aws:iam::{ACCOUNT}:policy/bench-node-extras"]},
            "additionalPolicies": {
                _ROLE_KEYS[kind]: json.dumps(items, indent=2)
                for kind, items in statements.items()
                if items
            },
        },
    }


def _sizes(statements: dict[str, list[dict[str, Any]]]) -> dict[str, int]:
    text = yaml.safe_dump(_document(statements), sort_keys=False).encode()
    plan = plan_spec(text, OPTIONS)
    return {
        kind: sum(policy_size(doc) for doc in role.inline_policies.values())
        for kind, role in plan.roles.items()
    }


def _grow(kind: str, statements: dict[str, list[dict[str, Any]]], base: int) -> None:
    """Add statements to ``kind`` while they fit, then pad the last Sid to close the gap."""
    # Size of one more statement as IAM counts it (plus the separating comma).
    size = base
    while True:
        extra = policy_size({"s": _statement(kind, len(statements[kind]))}) - 6 + 1
        if size + extra > MAX_INLINE_POLICY_CHARS - SLACK // 2:
            break
        statements[kind].append(_statement(kind, len(statements[kind])))
        size += extra
    # Exact sizes come from the real plan (the first statement also adds the policy's own
    # envelope); trim or pad until the role is within SLACK of the limit.
    while (now := _sizes(statements)[kind]) > MAX_INLINE_POLICY_CHARS:
        statements[kind].pop()
    gap = MAX_INLINE_POLICY_CHARS - now
    if gap > 1 and statements[kind]:
        last = len(statements[kind]) - 1
        statements[kind][last] = _statement(kind, last, sid_pad=gap - 1)
        if _sizes(statements)[kind] > MAX_INLINE_POLICY_CHARS:
            statements[kind][last] = _statement(kind, last)


@cache
def worst_case_spec() -> tuple[bytes, dict[str, int]]:
    """Return the worst-case spec (YAML bytes) and each role's inline policy size."""
    statements: dict[str, list[dict[str, Any]]] = {kind: [] for kind in _ROLE_KEYS}
    base = _sizes(statements)
    for kind in _ROLE_KEYS:
        _grow(kind, statements, base[kind])
    sizes = _sizes(statements)
    text = yaml.safe_dump(_document(statements), sort_keys=False).encode()
    return text, sizes
