"""Golden files of the policy builder over a grid of specs, as kops pins its IAM builder.

Each case is a spec (built with :func:`spec_builders.cluster_doc`) and its lookups;
``tests/golden/policy/<case>.json`` is the plan :func:`~kops_iam.domain.policy.build_plan`
computes for it (``kops-iam render``'s JSON), or the errors it refuses it with. Every
statement's ``Sid``, ``Action`` and ``Resource``, the trust policy and the tags are
therefore pinned for each mode (legacy and strict), state-store layout (a bucket's root, a
path, several buckets, several stores), KMS key form, partition and role set; ``make
golden`` rewrites the files and a change shows as their diff.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from spec_builders import cluster_doc
from support.golden import GOLDEN, check, stale

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.lookups import HostedZoneQuery, Lookups
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec

OUT = GOLDEN / "policy"
ACCOUNT = "123456789012"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-12ab-34cd-56ef-1234567890ab"
KEY_ID = "bbbbbbbb-12ab-34cd-56ef-1234567890ab"
ZONE = "Z0123456789ABCDEFGHIJ"


def _etcd(*keys: str) -> list[dict[str, Any]]:
    return [
        {
            "name": "main",
            "etcdMembers": [
                {"name": f"m{i}", "encryptedVolume": True, "kmsKeyId": key}
                for i, key in enumerate(keys)
            ],
        }
    ]


def _alias(alias: str, region: str) -> str:
    return f"arn:aws:kms:{region}:{ACCOUNT}:key/alias-{alias.removeprefix('alias/')}"


def _zone(query: HostedZoneQuery) -> str:
    return f"{ZONE}-{'private' if query.private else 'public'}"


def _no_alias(alias: str, region: str) -> str:
    raise LookupError(f"KMS says: alias {alias} not found in {region}")


def _no_zone(query: HostedZoneQuery) -> str:
    raise LookupError(f"Route53 holds no zone named {query.name}")


STRICT = {"legacy": False, "allowContainerRegistry": True}

#: name -> (spec fields, lookups); the cluster is test.k8s.example.com in eu-west-1.
CASES: dict[str, tuple[dict[str, Any], Lookups | None]] = {
    "legacy-minimal": ({}, None),
    "legacy-state-store-bucket-root": ({"configBase": "s3://kops-state"}, None),
    "legacy-state-store-path": ({"configBase": "s3://kops-state/test.k8s.example.com"}, None),
    "legacy-state-stores-in-two-buckets": (
        {
            "configBase": "s3://kops-state/test.k8s.example.com",
            "keyStore": "s3://kops-keys//pki-X",
            "secretStore": "s3://kops-secrets/test/secrets/",
        },
        None,
    ),
    "legacy-kms-keys": (
        {"etcdClusters": _etcd(KEY, KEY_ID, "alias/etcd", KEY)},
        Lookups(kms_alias=_alias),
    ),
    "legacy-bastion-boundary-labels-external": (
        {
            "topology": {"masters": "private", "nodes": "private", "bastion": {}},
            "iam": {"legacy": True, "permissionsBoundary": f"arn:aws:iam::{ACCOUNT}:policy/b"},
            "cloudLabels": {"team": "platform", "cost-center": "1234"},
            "externalPolicies": {
                "node": [f"arn:aws:iam::{ACCOUNT}:policy/n"],
                "master": [f"arn:aws:iam::{ACCOUNT}:policy/m"],
            },
        },
        None,
    ),
    "legacy-additional-policies": (
        {
            "additionalPolicies": {
                "node": json.dumps(
                    [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}]
                ),
                "master": json.dumps(
                    [{"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*"}]
                ),
            }
        },
        None,
    ),
    "legacy-china": (
        {
            "configBase": "s3://kops-state-cn/c",
            "subnets": [
                {"name": "a", "zone": "cn-north-1a", "cidr": "10.0.32.0/19"},
                {"name": "b", "zone": "cn-north-1b", "cidr": "10.0.64.0/19"},
            ],
        },
        None,
    ),
    "strict-public-zone": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "dnsZone": "example.com",
            "etcdClusters": _etcd(KEY),
        },
        Lookups(hosted_zone=_zone),
    ),
    "strict-private-zone": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "topology": {"masters": "private", "nodes": "private", "dns": {"type": "Private"}},
        },
        Lookups(hosted_zone=_zone),
    ),
    "strict-stores-in-three-buckets": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "keyStore": "s3://kops-keys/test/pki",
            "secretStore": "s3://kops-secrets/test/secrets",
            "configStore": "s3://kops-state/test.k8s.example.com/",
            "dnsZone": ZONE,
        },
        None,
    ),
    "strict-v1alpha3-config-store": (
        {
            "_apiVersion": "kops.k8s.io/v1alpha3",
            "iam": STRICT,
            "configStore": {
                "base": "s3://kops-state/test.k8s.example.com",
                "keypairs": "s3://kops-keys/test/pki",
                "secrets": "s3://kops-secrets/test/secrets",
            },
            "dnsZone": ZONE,
        },
        None,
    ),
    "strict-zone-id-and-stores": (
        {
            "iam": {"legacy": False},
            "configBase": "s3://kops-state/test.k8s.example.com",
            "keyStore": "s3://kops-keys/pki",
            "secretStore": "s3://kops-state/test.k8s.example.com/secrets",
            "dnsZone": ZONE,
            "topology": {"masters": "private", "nodes": "private", "bastion": {}},
        },
        None,
    ),
    "strict-gossip-config-base-looked-up": (
        {"iam": STRICT},
        Lookups(config_base="s3://bucket-of-the-spec/test.k8s.local"),
    ),
    "strict-networking": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "dnsZone": ZONE,
            "networking": {"romana": {}},
        },
        None,
    ),
    "strict-without-lookups": ({"iam": STRICT}, None),
    "legacy-kms-offline": ({"etcdClusters": _etcd(KEY_ID, "alias/etcd")}, None),
    "legacy-kms-without-account": (
        {
            "_options": Options(),
            "etcdClusters": [
                {"name": "main", "etcdMembers": [{"name": "a", "kmsKeyId": KEY}]},
                {
                    "name": "events",
                    "etcdMembers": [{"name": "a", "encryptedVolume": True, "kmsKeyId": KEY_ID}],
                },
            ],
        },
        None,
    ),
    "legacy-kms-alias-not-found": (
        {"etcdClusters": _etcd("alias/gone")},
        Lookups(kms_alias=_no_alias),
    ),
    "legacy-140-kms-keys": (
        {"etcdClusters": _etcd(*(f"{KEY[:-3]}{i:03d}" for i in range(140)))},
        None,
    ),
    "strict-kms-alias": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "dnsZone": ZONE,
            "etcdClusters": _etcd("alias/etcd"),
        },
        Lookups(kms_alias=_alias),
    ),
    "strict-zone-not-found": (
        {"iam": STRICT, "configBase": "s3://kops-state/test.k8s.example.com"},
        Lookups(hosted_zone=_no_zone),
    ),
    "strict-zone-name-offline": (
        {
            "iam": STRICT,
            "configBase": "s3://kops-state/test.k8s.example.com",
            "dnsZone": "example.com",
        },
        None,
    ),
    "strict-config-base-looked-up-with-a-slash": (
        {"iam": STRICT, "dnsZone": ZONE},
        Lookups(config_base="s3://bucket-of-the-spec/test.k8s.example.com/"),
    ),
    "strict-config-base-looked-up-broken": (
        {"iam": STRICT, "dnsZone": ZONE},
        Lookups(config_base="s3://Bad_Bucket/test.k8s.example.com"),
    ),
    "legacy-kms-offline-with-instance-groups": (
        {"etcdClusters": _etcd(KEY_ID, "alias/etcd")},
        None,
    ),
}
#: Cases read from a file that adds the cluster's InstanceGroups after it.
_WITH_GROUPS = {"legacy-kms-offline-with-instance-groups"}
_GROUP = {
    "apiVersion": "kops.k8s.io/v1alpha2",
    "kind": "InstanceGroup",
    "metadata": {"name": "nodes", "labels": {"kops.k8s.io/cluster": "test.k8s.example.com"}},
    "spec": {"role": "Node"},
}
#: Gossip cases are named after kops' gossip suffix.
_NAMES = {"strict-gossip-config-base-looked-up": "test.k8s.local"}


def render(name: str) -> str:
    fields, lookups = CASES[name]
    fields = dict(fields)
    api = fields.pop("_apiVersion", None)
    options = fields.pop("_options", Options(account_id=ACCOUNT))
    doc = cluster_doc(_NAMES.get(name, "test.k8s.example.com"), **fields)
    if api is not None:
        doc["apiVersion"] = api
    text = json.dumps(doc)
    if name in _WITH_GROUPS:  # a YAML stream: the Cluster, then its InstanceGroups
        text = yaml.safe_dump_all([doc, _GROUP], sort_keys=False)
    try:
        plan = plan_spec(text, options, lookups=lookups)
    except SpecInvalid as exc:
        result: Any = {
            "errors": [f"{e} [{e.code}]" for e in exc.errors],
            "warnings": [f"{w} [{w.code}]" for w in exc.warnings],
        }
    else:
        result = plan.to_dict()
    return json.dumps(result, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_spec_of_the_grid_plans_its_golden_policies(name: str) -> None:
    check(OUT / f"{name}.json", render(name))


def test_every_golden_policy_has_its_case() -> None:
    extra = stale(OUT, [OUT / f"{name}.json" for name in CASES], "*.json")
    assert not extra, f"golden files without a case (run `make golden`): {extra}"
