"""Spec validation: each rule, every error at once, each with its field path.

``additionalPolicies`` statements are checked by their own module (test_statements.py);
here a fake checker stands in so these tests are about the spec rules alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from specs import cluster_doc, etcd

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.options import Options
from kops_iam.domain.spec import ClusterSpec, validate

ARN_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def accept_all(raw: object, path: str, **_: Any) -> tuple[list[dict[str, Any]], list[Issue]]:
    return [{"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]}], []


def check(doc: dict[str, Any], options: Options | None = None) -> ClusterSpec:
    return validate(doc, options, check_statements=accept_all)


def errors_of(doc: dict[str, Any], options: Options | None = None) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        check(doc, options)
    return {issue.path: issue.message for issue in caught.value.errors}


def test_valid_minimal_spec() -> None:
    spec = check(cluster_doc())
    assert spec.name == "test.k8s.example.com"
    assert (spec.region, spec.partition) == ("eu-west-1", "aws")
    assert not spec.has_bastion and not spec.kms_keys and not spec.warnings


def test_api_version_and_kind_are_optional() -> None:
    doc = cluster_doc()
    del doc["apiVersion"], doc["kind"]
    assert check(doc).name == "test.k8s.example.com"


@pytest.mark.parametrize(
    ("field", "value"),
    [("apiVersion", "apps/v1"), ("apiVersion", "kops.k8s.io/v9"), ("kind", "InstanceGroup")],
)
def test_foreign_api_or_kind_rejected(field: str, value: str) -> None:
    doc = cluster_doc()
    doc[field] = value
    assert field in errors_of(doc)


@pytest.mark.parametrize("name", ["${CLUSTER_NAME}", "Upper.example.com", "-bad.example.com", ""])
def test_metadata_name_must_be_a_dns_name(name: str) -> None:
    errors = errors_of(cluster_doc(name=name))
    assert "metadata.name" in errors
    if "$" in name:
        assert "unexpanded" in errors["metadata.name"]


def test_missing_metadata_and_spec_named() -> None:
    assert "metadata" in errors_of({"spec": cluster_doc()["spec"]})
    assert "spec" in errors_of({"metadata": {"name": "a.example.com"}})


@pytest.mark.parametrize("provider", ["gce", {"gce": {}}, {"aws": {}, "gce": {}}])
def test_cloud_provider_must_be_aws(provider: object) -> None:
    assert "spec.cloudProvider" in errors_of(cluster_doc(cloudProvider=provider))


def test_cloud_provider_v1alpha3_mapping_accepted() -> None:
    assert check(cluster_doc(cloudProvider={"aws": {}})).partition == "aws"


def test_cloud_provider_required() -> None:
    assert "spec.cloudProvider" in errors_of(cluster_doc(cloudProvider=None))


def test_cidrs_must_parse() -> None:
    errors = errors_of(cluster_doc(networkCIDR="10.0.0.0/33", nonMasqueradeCIDR="100.64.0.1/10"))
    assert "spec.networkCIDR" in errors
    assert "spec.nonMasqueradeCIDR" in errors


def test_subnet_outside_network_cidr() -> None:
    doc = cluster_doc()
    doc["spec"]["subnets"][1]["cidr"] = "192.168.0.0/24"
    errors = errors_of(doc)
    assert "not inside networkCIDR" in errors["spec.subnets[1].cidr"]


def test_subnet_inside_additional_network_cidr_accepted() -> None:
    doc = cluster_doc(additionalNetworkCIDRs=["192.168.0.0/16"])
    doc["spec"]["subnets"][1]["cidr"] = "192.168.0.0/24"
    assert check(doc).region == "eu-west-1"


def test_zones_must_share_one_region() -> None:
    doc = cluster_doc()
    doc["spec"]["subnets"][1]["zone"] = "us-east-1b"
    errors = errors_of(doc)
    assert any("several regions" in m for m in errors.values())


def test_unknown_zone_named() -> None:
    doc = cluster_doc()
    doc["spec"]["subnets"][0]["zone"] = "mars-1a"
    assert "spec.subnets[0].zone" in errors_of(doc)


def test_region_decides_partition() -> None:
    doc = cluster_doc()
    for subnet in doc["spec"]["subnets"]:
        subnet["zone"] = "cn-north-1a"
    assert check(doc).partition == "aws-cn"
    for subnet in doc["spec"]["subnets"]:
        subnet["zone"] = "us-gov-west-1a"
    assert check(doc).partition == "aws-us-gov"


def test_no_zone_means_no_region() -> None:
    assert "spec.subnets" in errors_of(cluster_doc(subnets=None))


@pytest.mark.parametrize("vpc", ["vpc-123", "subnet-0a1b2c3d", "VPC-0A1B2C3D"])
def test_network_id_must_be_a_vpc_id(vpc: str) -> None:
    assert "spec.networkID" in errors_of(cluster_doc(networkID=vpc))


def test_v1alpha1_zones_shape() -> None:
    doc = cluster_doc(subnets=None, zones=[{"name": "eu-central-1a", "cidr": "10.0.32.0/19"}])
    doc["apiVersion"] = "kops.k8s.io/v1alpha1"
    assert check(doc).region == "eu-central-1"


def test_v1alpha3_networking_shape() -> None:
    base = cluster_doc()["spec"]
    doc = cluster_doc(
        networkCIDR=None,
        networkID=None,
        subnets=None,
        networking={
            "networkCIDR": base["networkCIDR"],
            "networkID": base["networkID"],
            "subnets": base["subnets"],
            "topology": {"bastion": {"publicName": "bastion.example.com"}},
            "cilium": {},
        },
    )
    doc["apiVersion"] = "kops.k8s.io/v1alpha3"
    spec = check(doc)
    assert spec.region == "eu-west-1" and spec.has_bastion


def test_v1alpha3_networking_errors_name_nested_path() -> None:
    doc = cluster_doc(
        networkCIDR=None,
        subnets=None,
        networking={"networkCIDR": "10.0.0.0/8", "subnets": [{"zone": "eu-west-1a", "cidr": "x"}]},
    )
    assert "spec.networking.subnets[0].cidr" in errors_of(doc)


def test_type_errors_are_reported_with_paths() -> None:
    doc = cluster_doc(subnets=[{"zone": 7, "cidr": "10.0.1.0/24"}], cloudLabels={"team": 5})
    errors = errors_of(doc)
    assert "spec.subnets[0].zone" in errors
    assert "spec.cloudLabels.team" in errors


def test_every_error_at_once() -> None:
    # Given a spec with four unrelated mistakes
    doc = cluster_doc(name="${CLUSTER_NAME}", cloudProvider="gce", networkID="nope")
    doc["spec"]["subnets"][0]["cidr"] = "10.0.0.0/99"
    # Then all four are reported together
    errors = errors_of(doc)
    assert {"metadata.name", "spec.cloudProvider", "spec.networkID", "spec.subnets[0].cidr"} <= set(
        errors
    )


def test_unused_fields_are_ignored() -> None:
    doc = cluster_doc(kubernetesVersion="1.29.0", api={"loadBalancer": {"type": "Public"}})
    doc["metadata"]["creationTimestamp"] = "2016-06-27T14:23:34Z"
    assert check(doc).name == "test.k8s.example.com"


# -- etcd / KMS ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "form"),
    [
        (ARN_KEY, "arn"),
        ("1234abcd-12ab-34cd-56ef-1234567890ab", "id"),
        ("mrk-1234abcd12ab34cd56ef1234567890ab", "id"),
        ("alias/etcd", "alias"),
        ("arn:aws:kms:eu-west-1:123456789012:alias/etcd", "alias"),
    ],
)
def test_kms_key_forms(key: str, form: str) -> None:
    spec = check(cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": key})))
    assert [(k.form, k.value) for k in spec.kms_keys] == [(form, key)]


def test_kms_key_v1alpha3_spelling() -> None:
    spec = check(cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyID": ARN_KEY})))
    assert spec.kms_keys[0].path == "spec.etcdClusters[0].etcdMembers[0].kmsKeyID"


def test_bad_kms_key_is_an_error() -> None:
    errors = errors_of(cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": "k"})))
    assert "spec.etcdClusters[0].etcdMembers[0].kmsKeyId" in errors


def test_kms_key_in_other_partition_is_an_error() -> None:
    key = ARN_KEY.replace("arn:aws:", "arn:aws-cn:")
    errors = errors_of(cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": key})))
    assert "partition" in errors["spec.etcdClusters[0].etcdMembers[0].kmsKeyId"]


@pytest.mark.parametrize("encrypted", [False, None])
def test_kms_key_without_encrypted_volume_is_a_warning(encrypted: bool | None) -> None:
    member: dict[str, Any] = {"kmsKeyId": ARN_KEY}
    if encrypted is not None:
        member["encryptedVolume"] = encrypted
    spec = check(cluster_doc(etcdClusters=etcd(member)))
    assert spec.kms_keys == ()
    assert [w.path for w in spec.warnings] == ["spec.etcdClusters[0].etcdMembers[0].kmsKeyId"]


def test_encrypted_volume_must_be_a_boolean() -> None:
    errors = errors_of(cluster_doc(etcdClusters=etcd({"encryptedVolume": "yes"})))
    assert "spec.etcdClusters[0].etcdMembers[0].encryptedVolume" in errors


# -- additionalPolicies / externalPolicies / boundary / labels ------------------------------


def test_additional_policy_role_keys() -> None:
    spec = check(cluster_doc(additionalPolicies={"control-plane": "[]", "node": "[]"}))
    assert set(spec.additional_policies) == {"master", "node"}


def test_master_and_control_plane_together_rejected() -> None:
    errors = errors_of(cluster_doc(additionalPolicies={"master": "[]", "control-plane": "[]"}))
    assert "spec.additionalPolicies.control-plane" in errors


def test_unknown_additional_policy_role_rejected() -> None:
    assert "spec.additionalPolicies.worker" in errors_of(
        cluster_doc(additionalPolicies={"worker": "[]"})
    )


def test_statement_errors_are_passed_through() -> None:
    def reject(raw: object, path: str, **_: Any) -> tuple[list[dict[str, Any]], list[Issue]]:
        return [], [Issue(f"{path}[0].Effect", "must be Allow or Deny")]

    with pytest.raises(SpecInvalid) as caught:
        validate(cluster_doc(additionalPolicies={"node": "[]"}), check_statements=reject)
    assert [str(e) for e in caught.value.errors] == [
        "spec.additionalPolicies.node[0].Effect: must be Allow or Deny"
    ]


def test_bastion_from_topology_alone_a_bastion_policy_only_warns() -> None:
    assert check(
        cluster_doc(topology={"bastion": {"bastionPublicName": "b.example.com"}})
    ).has_bastion
    # kops made no bastion role for a bastion policy alone (docs/adr/0090)
    spec = check(cluster_doc(additionalPolicies={"bastion": "[]"}))
    assert not spec.has_bastion
    assert [w.path for w in spec.warnings] == ["spec.additionalPolicies.bastion"]
    assert not check(cluster_doc(topology={"masters": "private"})).has_bastion


POLICY = "arn:aws:iam::123456789012:policy/extra"


def test_external_policies() -> None:
    spec = check(cluster_doc(externalPolicies={"node": [POLICY], "master": [POLICY]}))
    assert spec.external_policies == {"node": (POLICY,), "master": (POLICY,)}


def test_external_policies_limits() -> None:
    many = [f"{POLICY}-{i}" for i in range(11)]
    errors = errors_of(
        cluster_doc(externalPolicies={"node": many, "master": ["nope", POLICY, POLICY]})
    )
    assert "at most 10" in errors["spec.externalPolicies.node"]
    assert "spec.externalPolicies.master[0]" in errors
    assert "twice" in errors["spec.externalPolicies.master[2]"]


def test_external_policies_limited_to_operator_allowed() -> None:
    options = Options(allowed_managed_policies=frozenset({POLICY}))
    assert check(cluster_doc(externalPolicies={"node": [POLICY]}), options)
    errors = errors_of(cluster_doc(externalPolicies={"node": [POLICY + "2"]}), options)
    assert "operator" in errors["spec.externalPolicies.node[0]"]


BOUNDARY = "arn:aws:iam::123456789012:policy/boundary"


def test_permissions_boundary_from_spec() -> None:
    spec = check(cluster_doc(iam={"permissionsBoundary": BOUNDARY}))
    assert spec.permissions_boundary == BOUNDARY


def test_operator_boundary_enforced() -> None:
    options = Options(permissions_boundary=BOUNDARY)
    assert check(cluster_doc(), options).permissions_boundary == BOUNDARY
    errors = errors_of(cluster_doc(iam={"permissionsBoundary": BOUNDARY + "-other"}), options)
    assert "operator" in errors["spec.iam.permissionsBoundary"]


def test_boundary_must_be_a_policy_arn() -> None:
    assert "spec.iam.permissionsBoundary" in errors_of(
        cluster_doc(iam={"permissionsBoundary": "x"})
    )


def test_cloud_labels_checked() -> None:
    errors = errors_of(cluster_doc(cloudLabels={"aws:owner": "x", "Name": "y", "ok": "v" * 257}))
    assert {"spec.cloudLabels.aws:owner", "spec.cloudLabels.Name", "spec.cloudLabels.ok"} <= set(
        errors
    )


def test_too_many_cloud_labels() -> None:
    # Five of a role's 50 tags are kops-iam's: Name, KubernetesCluster,
    # kubernetes.io/cluster/<name>, kops-iam/managed-by and kops-iam/cluster.
    labels = {f"label{i}": "v" for i in range(46)}
    assert "spec.cloudLabels" in errors_of(cluster_doc(cloudLabels=labels))
    del labels["label45"]
    assert len(check(cluster_doc(cloudLabels=labels)).cloud_labels) == 45


def test_kops_iam_tags_are_reserved() -> None:
    errors = errors_of(cluster_doc(cloudLabels={"kops-iam/cluster": "other.example.com"}))
    assert "spec.cloudLabels.kops-iam/cluster" in errors


def test_state_store_paths() -> None:
    spec = check(
        cluster_doc(
            configBase="s3://state/test.k8s.example.com",
            keyStore="s3://state/test.k8s.example.com/pki",
            secretStore="memfs://ignored",
        )
    )
    assert [(p.bucket, p.path) for p in spec.state_store] == [
        ("state", "test.k8s.example.com"),
        ("state", "test.k8s.example.com/pki"),
    ]


def test_bad_state_store_url() -> None:
    assert "spec.configBase" in errors_of(cluster_doc(configBase="s3://"))


@pytest.mark.parametrize(
    "url",
    [
        "s3://state/c\u200b",
        "s3://state/c\u0100",
        "s3://state/a b",
        "s3://state/c*",
        "s3://state/${x}",
    ],
)
def test_state_store_path_must_be_arn_safe(url: str) -> None:
    # A character IAM forbids (or a wildcard) would land in the state-store policy ARN
    assert "spec.configBase" in errors_of(cluster_doc(configBase=url))


def test_managed_policy_arn_is_ascii() -> None:
    arn = "arn:aws:iam::123456789012:policy/caf\u00e9"
    assert "spec.externalPolicies.node[0]" in errors_of(
        cluster_doc(externalPolicies={"node": [arn]})
    )
    assert "spec.iam.permissionsBoundary" in errors_of(
        cluster_doc(iam={"permissionsBoundary": arn})
    )


def test_cluster_name_must_fit_the_kops_cluster_tag_key() -> None:
    # Given DNS-valid names: 106 characters fit kubernetes.io/cluster/<name> in 128, 107 do not
    fits = ".".join(["a" * 62, "b" * 43])
    too_long = fits + "c"
    assert (len(fits), len(too_long)) == (106, 107)
    assert check(cluster_doc(name=fits)).name == fits
    assert "at most 106" in errors_of(cluster_doc(name=too_long))["metadata.name"]
