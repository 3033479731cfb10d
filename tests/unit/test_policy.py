"""Policy computation: kops' documented permissions, KMS, state store, bastion, limits."""

from __future__ import annotations

import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from specs import cluster_doc, etcd

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.policy import MAX_INLINE_POLICY_CHARS, build_plan, policy_size
from kops_iam.domain.spec import validate

KEY_A = "arn:aws:kms:eu-west-1:123456789012:key/aaaaaaaa-12ab-34cd-56ef-1234567890ab"
KEY_B = "arn:aws:kms:eu-west-1:123456789012:key/bbbbbbbb-12ab-34cd-56ef-1234567890ab"
ECR = [
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:BatchGetImage",
]
KMS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
]


def parse_statements(raw: object, path: str, **_: Any) -> tuple[list[dict[str, Any]], list[Issue]]:
    """Stand-in for the statement checker: the value is a JSON array of statements."""
    assert isinstance(raw, str)
    return json.loads(raw), []


def plan(doc: dict[str, Any], options: Options | None = None, **kwargs: Any) -> ClusterPlan:
    return build_plan(validate(doc, options, check_statements=parse_statements), options, **kwargs)


def actions(document: dict[str, Any]) -> list[str]:
    return [a for s in document["Statement"] for a in s["Action"]]


def main_policy(result: ClusterPlan, kind: str) -> dict[str, Any]:
    role = result.roles[kind]  # type: ignore[index]
    return role.inline_policies[role.role_name]


def test_master_and_node_permissions_are_kops_documented_ones() -> None:
    result = plan(cluster_doc())
    assert actions(main_policy(result, "master")) == [
        "ec2:*",
        "route53:*",
        "elasticloadbalancing:*",
        *ECR,
    ]
    assert actions(main_policy(result, "node")) == ["ec2:Describe*", "route53:*", *ECR]
    assert set(result.roles) == {"master", "node"}


def test_roles_profiles_and_policies_share_kops_names() -> None:
    result = plan(cluster_doc(name="c.example.com"))
    master = result.roles["master"]
    assert master.role_name == master.instance_profile_name == "masters.c.example.com"
    assert list(master.inline_policies) == ["masters.c.example.com"]
    assert result.roles["node"].role_name == "nodes.c.example.com"


def test_trust_policy_and_tags() -> None:
    result = plan(cluster_doc(name="c.example.com", cloudLabels={"team": "platform"}))
    node = result.roles["node"]
    assert node.assume_role_policy["Statement"] == [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ]
    assert node.tags == {
        "KubernetesCluster": "c.example.com",
        "Name": "nodes.c.example.com",
        "kops-iam/cluster": "c.example.com",
        "kops-iam/managed-by": "kops-iam",
        "kubernetes.io/cluster/c.example.com": "owned",
        "team": "platform",
    }


def test_additional_policy_is_a_second_inline_policy() -> None:
    statements = [{"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]}]
    result = plan(
        cluster_doc(name="c.example.com", additionalPolicies={"node": json.dumps(statements)})
    )
    node = result.roles["node"]
    assert list(node.inline_policies) == ["nodes.c.example.com", "additional.nodes.c.example.com"]
    assert node.inline_policies["additional.nodes.c.example.com"] == {
        "Version": "2012-10-17",
        "Statement": statements,
    }
    assert "additional.masters.c.example.com" not in result.roles["master"].inline_policies


def test_kms_statement_only_for_encrypted_volumes_with_keys() -> None:
    # Given two members on key B, one on key A, one encrypted with the default key
    doc = cluster_doc(
        etcdClusters=etcd(
            {"encryptedVolume": True, "kmsKeyId": KEY_B},
            {"encryptedVolume": True, "kmsKeyId": KEY_A},
            {"encryptedVolume": True, "kmsKeyId": KEY_B},
            {"encryptedVolume": True},
        )
    )
    statements = main_policy(plan(doc), "master")["Statement"]
    kms = [s for s in statements if s["Action"][0].startswith("kms:")]
    # Then one statement with the kops KMS actions on the sorted distinct key ARNs
    assert len(kms) == 1
    assert kms[0]["Action"] == KMS
    assert kms[0]["Resource"] == [KEY_A, KEY_B]
    # and the nodes get nothing of it
    assert not [a for a in actions(main_policy(plan(doc), "node")) if a.startswith("kms:")]


def test_no_kms_statement_without_encryption() -> None:
    doc = cluster_doc(etcdClusters=etcd({"encryptedVolume": False, "kmsKeyId": KEY_A}))
    result = plan(doc)
    assert not [a for a in actions(main_policy(result, "master")) if a.startswith("kms:")]
    assert result.warnings == (
        "spec.etcdClusters[0].etcdMembers[0].kmsKeyId: set without encryptedVolume: true, so the "
        "volume is not encrypted with it and the masters get no KMS grant",
    )


def test_bare_key_id_becomes_arn_with_account() -> None:
    doc = cluster_doc(
        etcdClusters=etcd(
            {"encryptedVolume": True, "kmsKeyId": "aaaaaaaa-12ab-34cd-56ef-1234567890ab"}
        )
    )
    result = plan(doc, Options(account_id="123456789012"))
    kms = main_policy(result, "master")["Statement"][-1]
    assert kms["Resource"] == [KEY_A]


def test_bare_key_id_without_account_is_an_error_that_says_so() -> None:
    doc = cluster_doc(
        etcdClusters=etcd(
            {"encryptedVolume": True, "kmsKeyId": "aaaaaaaa-12ab-34cd-56ef-1234567890ab"}
        )
    )
    with pytest.raises(SpecInvalid) as caught:
        plan(doc)
    (issue,) = caught.value.errors
    assert issue.path == "spec.etcdClusters[0].etcdMembers[0].kmsKeyId"
    assert "--account-id" in issue.message


def test_alias_resolved_through_kms_in_the_clusters_region_when_applying() -> None:
    doc = cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": "alias/etcd"}))
    asked: list[tuple[str, str]] = []

    def resolve(alias: str, region: str) -> str:
        asked.append((alias, region))
        return KEY_B

    resolved = plan(doc, resolve_alias=resolve)
    assert main_policy(resolved, "master")["Statement"][-1]["Resource"] == [KEY_B]
    # KMS is regional: the alias is looked up where the cluster is, not where the caller runs
    assert asked == [("alias/etcd", resolved.region)]


def test_alias_offline_is_an_error() -> None:
    doc = cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": "alias/etcd"}))
    with pytest.raises(SpecInvalid) as caught:
        plan(doc)
    assert "resolved through KMS" in caught.value.errors[0].message


def test_unresolvable_alias_is_an_error() -> None:
    doc = cluster_doc(etcdClusters=etcd({"encryptedVolume": True, "kmsKeyId": "alias/gone"}))
    with pytest.raises(SpecInvalid) as caught:
        plan(doc, resolve_alias=lambda alias, _region: {}[alias])
    assert "could not be resolved" in caught.value.errors[0].message


def test_state_store_grants_for_masters_and_nodes() -> None:
    doc = cluster_doc(configBase="s3://state/c", keyStore="s3://state/c/pki")
    result = plan(doc)
    for kind in ("master", "node"):
        statements = main_policy(result, kind)["Statement"]
        by_sid = {s["Sid"]: s for s in statements}
        assert by_sid["kopsK8sS3StateStore"]["Action"] == ["s3:*"]
        assert by_sid["kopsK8sS3StateStore"]["Resource"] == [
            "arn:aws:s3:::state/c",
            "arn:aws:s3:::state/c/*",
            "arn:aws:s3:::state/c/pki",
            "arn:aws:s3:::state/c/pki/*",
        ]
        assert by_sid["kopsK8sS3StateStoreBucket"]["Action"] == [
            "s3:GetBucketLocation",
            "s3:ListBucket",
        ]
        assert by_sid["kopsK8sS3StateStoreBucket"]["Resource"] == ["arn:aws:s3:::state"]


def test_bastion_role_when_declared() -> None:
    result = plan(cluster_doc(name="c.example.com", topology={"bastion": {}}))
    bastion = result.roles["bastion"]
    assert bastion.role_name == "bastions.c.example.com"
    assert main_policy(result, "bastion")["Statement"] == [
        {
            "Sid": "kopsK8sBastion",
            "Effect": "Allow",
            "Action": ["ec2:DescribeRegions"],
            "Resource": ["*"],
        }
    ]


def test_china_partition() -> None:
    doc = cluster_doc(configBase="s3://state/c")
    for subnet in doc["spec"]["subnets"]:
        subnet["zone"] = subnet["zone"].replace("eu-west-1", "cn-north-1")
    result = plan(doc)
    assert result.partition == "aws-cn" and result.region == "cn-north-1"
    node = result.roles["node"]
    assert node.assume_role_policy["Statement"][0]["Principal"] == {
        "Service": "ec2.amazonaws.com.cn"
    }
    resources = [r for s in main_policy(result, "node")["Statement"] for r in s["Resource"]]
    assert "arn:aws-cn:s3:::state" in resources


def test_boundary_and_managed_policies_on_roles() -> None:
    boundary = "arn:aws:iam::123456789012:policy/b"
    extra = "arn:aws:iam::123456789012:policy/x"
    result = plan(
        cluster_doc(
            iam={"legacy": True, "permissionsBoundary": boundary},
            externalPolicies={"node": [extra]},
        )
    )
    assert {r.permissions_boundary for r in result.roles.values()} == {boundary}
    assert result.roles["node"].managed_policy_arns == (extra,)
    assert result.roles["master"].managed_policy_arns == ()


def test_inline_policy_size_limit_names_role_and_size() -> None:
    statements = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [f"arn:aws:s3:::bucket-{i:05d}/*"],
        }
        for i in range(300)
    ]
    with pytest.raises(SpecInvalid) as caught:
        plan(cluster_doc(name="c.example.com", additionalPolicies={"node": json.dumps(statements)}))
    (issue,) = caught.value.errors
    assert issue.path == "spec.additionalPolicies.node"
    assert "nodes.c.example.com" in issue.message and "10,240" in issue.message


def test_policy_size_ignores_whitespace() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Sid": "A B"}]}
    compact = json.dumps(document, separators=(",", ":"))
    assert policy_size(document) == len(compact) - 1
    assert MAX_INLINE_POLICY_CHARS == 10_240


def _padded(length: int) -> dict[str, Any]:
    """A node spec whose additional policy's one resource ARN is padded to ``length``."""
    resource = "arn:aws:s3:::b/" + "k" * (length - len("arn:aws:s3:::b/"))
    statement = {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": [resource]}
    return cluster_doc(name="c.example.com", additionalPolicies={"node": json.dumps([statement])})


def _node_size(result: ClusterPlan) -> int:
    return sum(policy_size(d) for d in result.roles["node"].inline_policies.values())


def test_inline_policies_of_exactly_iams_limit_are_accepted_one_more_is_refused() -> None:
    # Given a node role whose inline policies total exactly 10,240 characters
    short = _node_size(plan(_padded(100)))
    at_limit = _padded(100 + MAX_INLINE_POLICY_CHARS - short)
    # When planned, Then it is accepted (IAM accepts it) ...
    assert _node_size(plan(at_limit)) == 10_240
    # ... and one character more is refused, naming the role, the size and the limit
    with pytest.raises(SpecInvalid) as caught:
        plan(_padded(101 + MAX_INLINE_POLICY_CHARS - short))
    assert [str(issue) for issue in caught.value.errors] == [
        "spec.additionalPolicies.node: role nodes.c.example.com: inline policies total 10,241 "
        "characters (whitespace not counted), over IAM's 10,240 limit"
    ]


def test_policy_size_counts_non_ascii_text_as_the_characters_iam_counts() -> None:
    # Given a policy with non-ASCII text (a condition value in another script)
    document = {"Statement": [{"Condition": {"StringEquals": {"aws:PrincipalTag/team": "é日本"}}}]}
    # Then each character counts once, not as the \\uXXXX escape JSON would write
    text = '{"Statement":[{"Condition":{"StringEquals":{"aws:PrincipalTag/team":"é日本"}}}]}'
    assert policy_size(document) == len(text) == 78


def test_long_cluster_name_truncates_every_name() -> None:
    name = "a-very-long-cluster-name.with-several-labels.k8s.example.com"
    result = plan(cluster_doc(name=name, additionalPolicies={"node": "[]"}))
    for role in result.roles.values():
        assert len(role.role_name) <= 64
        assert role.instance_profile_name == role.role_name
        assert set(role.inline_policies) <= {role.role_name, f"additional.{role.role_name}"}


# -- determinism ---------------------------------------------------------------------------

zones = st.sampled_from(["eu-west-1", "us-east-1", "cn-north-1", "us-gov-west-1"])
key_ids = st.uuids().map(str)


@settings(max_examples=60, deadline=None)
@given(
    region=zones,
    keys=st.lists(key_ids, max_size=5),
    labels=st.dictionaries(
        st.from_regex(r"[a-z]{1,10}", fullmatch=True), st.text("abc", max_size=5), max_size=5
    ),
    bastion=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_plan_is_deterministic_and_order_insensitive(
    region: str, keys: list[str], labels: dict[str, str], bastion: bool, seed: int
) -> None:
    # Given a spec, and the same spec with its members and labels shuffled
    members = [{"encryptedVolume": True, "kmsKeyId": k} for k in keys]
    extra: dict[str, Any] = {"topology": {"bastion": {}}} if bastion else {}
    doc = cluster_doc(
        etcdClusters=etcd(*members), cloudLabels=labels, configBase="s3://state/c", **extra
    )
    for subnet in doc["spec"]["subnets"]:
        subnet["zone"] = region + subnet["zone"][-1]
    shuffled = json.loads(json.dumps(doc))
    rng = random.Random(seed)
    rng.shuffle(shuffled["spec"]["etcdClusters"][0]["etcdMembers"])
    items = list(labels.items())
    rng.shuffle(items)
    shuffled["spec"]["cloudLabels"] = dict(items)
    options = Options(account_id="123456789012")
    # When both are planned (twice)
    first = json.dumps(plan(doc, options).to_dict())
    again = json.dumps(plan(doc, options).to_dict())
    other = json.dumps(plan(shuffled, options).to_dict())
    # Then the output is byte-identical
    assert first == again == other
