"""Strict IAM, pinned to kops 1.8.0 (docs/adr/0091), and what it looks up (docs/adr/0092).

kops 1.8.0's own goldens are checked statement by statement in test_kops_fidelity.py; these
tests pin the rules around them: which specs are strict, the inputs kops looked up, and each
optional statement.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from specs import cluster_doc

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.lookups import HostedZone, HostedZoneQuery, Lookups, fixed_zone, select_zone
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec, validate_spec
from kops_iam.domain.strict_policy import store_roots

CLUSTER = "test.k8s.example.com"
STORE = f"s3://state/{CLUSTER}"
ZONE = "Z1D633PJN98FT9"
LOOKUPS = Lookups(hosted_zone=fixed_zone(ZONE))


def strict(**spec: Any) -> dict[str, Any]:
    spec.setdefault("iam", {"legacy": False})
    spec.setdefault("configBase", STORE)
    return cluster_doc(**spec)


def plan(doc: dict[str, Any], lookups: Lookups = LOOKUPS, **options: Any) -> ClusterPlan:
    return plan_spec(json.dumps(doc).encode(), Options(**options), lookups=lookups)


def statements(result: ClusterPlan, kind: str) -> dict[str, dict[str, Any]]:
    role = result.roles[kind]  # type: ignore[index]
    return {s["Sid"]: s for s in role.inline_policies[role.role_name]["Statement"]}


@pytest.mark.parametrize(
    ("iam", "mode"),
    [
        (None, "legacy"),
        ({}, "strict"),
        ({"legacy": False}, "strict"),
        ({"legacy": True}, "legacy"),
        ({"allowContainerRegistry": True}, "strict"),
        ({"legacy": True, "allowContainerRegistry": False}, "legacy"),
        ({"permissionsBoundary": "arn:aws:iam::123456789012:policy/b"}, "strict"),
    ],
)
def test_kops_18_reading_of_the_iam_block(iam: dict[str, Any] | None, mode: str) -> None:
    doc = cluster_doc(configBase=STORE) if iam is None else strict(iam=iam)
    assert plan(doc).iam_mode == mode


def test_legacy_stays_the_kops_page() -> None:
    legacy = statements(
        plan(cluster_doc(iam={"legacy": True, "allowContainerRegistry": False})), "master"
    )
    assert legacy["kopsK8sEC2MasterPermsFullAccess"]["Action"] == ["ec2:*"]
    assert "kopsK8sECR" in legacy  # the page grants ECR, whatever allowContainerRegistry says


def test_container_registry_is_a_switch_in_strict_mode() -> None:
    assert "kopsK8sECR" not in statements(plan(strict()), "master")
    with_ecr = plan(strict(iam={"allowContainerRegistry": True}))
    assert "kopsK8sECR" in statements(with_ecr, "master")
    assert "kopsK8sECR" in statements(with_ecr, "node")


def test_strict_masters_are_scoped_by_the_cluster_tag() -> None:
    master = statements(plan(strict()), "master")
    assert master["kopsK8sEC2MasterPermsTaggedResources"]["Condition"] == {
        "StringEquals": {"ec2:ResourceTag/KubernetesCluster": CLUSTER}
    }
    assert not any(a.endswith(":*") for s in master.values() for a in s["Action"])


# -- the hosted zone ----------------------------------------------------------------------


def test_route53_is_scoped_to_the_zone_the_lookup_finds() -> None:
    master = statements(plan(strict()), "master")
    assert master["kopsK8sRoute53Change"]["Resource"] == [f"arn:aws:route53:::hostedzone/{ZONE}"]
    assert "route53:ListHostedZones" in master["kopsK8sRoute53ListZones"]["Action"]
    assert not any("route53" in json.dumps(s) for s in statements(plan(strict()), "node").values())


def test_a_dns_zone_without_a_dot_is_the_zone_id() -> None:
    master = statements(plan(strict(dnsZone="/hostedzone/ZABC"), Lookups()), "master")
    assert master["kopsK8sRoute53Change"]["Resource"] == ["arn:aws:route53:::hostedzone/ZABC"]


def test_gossip_and_dns_none_clusters_get_no_route53() -> None:
    gossip = cluster_doc("test.k8s.local", iam={}, configBase="s3://state/test.k8s.local")
    assert not any(
        "route53" in json.dumps(s) for s in statements(plan(gossip, Lookups()), "master").values()
    )
    none = strict(topology={"dns": {"type": "None"}})
    assert "kopsK8sRoute53Change" not in statements(plan(none, Lookups()), "master")


def test_the_lookup_asks_what_kops_asked() -> None:
    asked: list[HostedZoneQuery] = []

    def resolve(query: HostedZoneQuery) -> str:
        asked.append(query)
        return ZONE

    plan(strict(), Lookups(hosted_zone=resolve))
    plan(
        strict(dnsZone="example.com", topology={"dns": {"type": "Private"}}),
        Lookups(hosted_zone=resolve),
    )
    assert [(q.name, q.exact, q.private) for q in asked] == [
        (CLUSTER, False, False),
        ("example.com", True, True),
    ]


def test_without_a_lookup_render_says_what_it_needs() -> None:
    with pytest.raises(SpecInvalid) as caught:
        plan(strict(), Lookups())
    (error,) = caught.value.errors
    assert error.path == "spec.dnsZone" and "--hosted-zone-id" in error.message
    # validate needs no lookup (it stands in for the zone)
    validate_spec(json.dumps(strict()).encode())


ZONES = [
    HostedZone("/hostedzone/Z1", "example.com.", False),
    HostedZone("Z2", "k8s.example.com", False),
    HostedZone("Z3", "k8s.example.com", True),
    HostedZone("Z4", "twin.example.com", False),
    HostedZone("Z5", "twin.example.com", False),
]


@pytest.mark.parametrize(
    ("name", "exact", "private", "expected"),
    [
        ("a.b.k8s.example.com", False, False, "Z2"),  # the longest suffix
        ("a.b.k8s.example.com", False, True, "Z3"),  # of the right privacy
        ("other.example.com", False, False, "Z1"),
        ("example.com", True, False, "Z1"),
        ("k8s.example.com", True, True, "Z3"),
    ],
)
def test_kops_choice_among_hosted_zones(
    name: str, exact: bool, private: bool, expected: str
) -> None:
    assert select_zone(HostedZoneQuery(name, exact, private, "spec.dnsZone"), ZONES) == expected


@pytest.mark.parametrize(
    ("name", "exact", "private", "message"),
    [
        ("x.twin.example.com", False, False, "several zones fit (Z4, Z5)"),
        ("example.org", False, False, "no public hosted zone"),
        ("example.com", True, True, "no private hosted zone example.com"),
    ],
)
def test_kops_failures_among_hosted_zones(
    name: str, exact: bool, private: bool, message: str
) -> None:
    with pytest.raises(LookupError, match=re.escape(message)):
        select_zone(HostedZoneQuery(name, exact, private, "spec.dnsZone"), ZONES)


# -- the state store ----------------------------------------------------------------------


def test_state_store_roots_as_kops_18() -> None:
    master, node = statements(plan(strict()), "master"), statements(plan(strict()), "node")
    assert master["kopsK8sS3GetListBucket"]["Resource"] == ["arn:aws:s3:::state"]
    assert master["kopsK8sS3MasterBucketFullGet"]["Resource"] == [f"arn:aws:s3:::state/{CLUSTER}/*"]
    resources = node["kopsK8sS3NodeBucketSelectiveGet"]["Resource"]
    assert resources[0] == f"arn:aws:s3:::state/{CLUSTER}/addons/*" and len(resources) == 9
    assert master["kopsK8sS3MasterBucketFullGet"]["Action"] == ["s3:Get*"]  # read-only


def test_a_key_store_elsewhere_is_a_second_root() -> None:
    result = plan(strict(keyStore="s3://keys/pki"))
    master = result.roles["master"].inline_policies[result.roles["master"].role_name]["Statement"]
    assert [s["Resource"] for s in master if s["Sid"] == "kopsK8sS3GetListBucket"] == [
        ["arn:aws:s3:::keys"],
        ["arn:aws:s3:::state"],
    ]


def test_store_roots_drop_what_lies_under_another_and_keep_one_of_twins() -> None:
    assert store_roots(["s3://b/c/pki", "s3://b/c/secrets", "s3://b/c"]) == (
        ["s3://b/c/"],
        ["s3://b/c/pki/", "s3://b/c/secrets/"],
    )
    assert store_roots(["s3://b/c", "s3://b/c/secrets", "s3://b/c"]) == (
        ["s3://b/c/"],
        ["s3://b/c/secrets/", "s3://b/c/"],
    )


def test_memfs_and_other_stores_get_no_s3_statement() -> None:
    assert "kopsK8sS3GetListBucket" not in statements(
        plan(strict(configBase="memfs://x/y")), "node"
    )
    spec = validate_spec(json.dumps(strict(configBase="gs://bucket/c")).encode())
    assert any(w.path == "spec.configBase" and "not an s3://" in w.message for w in spec.warnings)


def test_config_base_comes_from_the_lookup_or_render_says_it_needs_it() -> None:
    doc = strict(configBase=None)
    with pytest.raises(SpecInvalid) as caught:
        plan(doc)
    assert [e.path for e in caught.value.errors] == ["spec.configBase"]
    assert "--config-base" in caught.value.errors[0].message
    found = plan(doc, Lookups(hosted_zone=fixed_zone(ZONE), config_base="s3://lambda-bucket/c"))
    assert statements(found, "master")["kopsK8sS3GetListBucket"]["Resource"] == [
        "arn:aws:s3:::lambda-bucket"
    ]


def test_v1alpha3_config_store_is_config_base() -> None:
    doc = strict(configBase=None, configStore={"base": STORE})
    assert "kopsK8sS3GetListBucket" in statements(plan(doc), "node")


def test_a_v1alpha2_config_store_kops_ignored_is_a_warning() -> None:
    spec = validate_spec(json.dumps(strict(configStore="s3://elsewhere/x")).encode())
    assert any(w.path == "spec.configStore" for w in spec.warnings)


# -- KMS, CNI, partitions -----------------------------------------------------------------

KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def test_kms_on_every_kms_key_id_in_spec_order_encrypted_volume_not_consulted() -> None:
    members = [
        {"name": "a", "kmsKeyId": KEY},
        {"name": "b", "kmsKeyId": "0987dcba-09fe-87dc-65ba-ab0987654321"},
    ]
    doc = strict(etcdClusters=[{"name": "main", "etcdMembers": members}])
    master = statements(plan(doc, account_id="123456789012"), "master")
    assert master["kopsK8sKMSEncryptedVolumes"]["Resource"] == [
        KEY,
        "arn:aws:kms:eu-west-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321",
    ]
    assert "kms:ListGrants" not in master["kopsK8sKMSEncryptedVolumes"]["Action"]


def test_romana_and_kube_router_statements() -> None:
    romana = plan(strict(networking={"romana": {}}))
    assert "kopsK8sEC2MasterPermsRomanaCNI" in statements(romana, "master")
    router = plan(strict(networking={"kuberouter": {}}))
    node = statements(router, "node")
    assert node["kopsK8sS3NodeBucketGetKuberouter"]["Resource"] == [
        f"arn:aws:s3:::state/{CLUSTER}/pki/private/kube-router/*"
    ]


def test_china_partition_in_every_arn() -> None:
    doc = strict(
        subnets=[{"name": "a", "zone": "cn-northwest-1a", "cidr": "10.0.32.0/19"}],
        configBase="s3://state-cn/c",
    )
    result = plan(doc)
    master = statements(result, "master")
    assert master["kopsK8sS3GetListBucket"]["Resource"] == ["arn:aws-cn:s3:::state-cn"]
    assert master["kopsK8sRoute53Change"]["Resource"][0].startswith("arn:aws-cn:route53")
    trust = result.roles["master"].assume_role_policy["Statement"][0]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com.cn"}
