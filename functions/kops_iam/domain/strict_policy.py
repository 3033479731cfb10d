"""kops 1.8.0's strict IAM policies (``iam`` block without ``legacy: true``). Pure.

Pinned to kops 1.8.0, the first release with strict IAM (docs/adr/0091): the statements,
their ``Sid``s and their order are those of ``pkg/model/iam/iam_builder.go`` at tag 1.8.0 and
of its golden grid ``pkg/model/iam/tests/iam_builder_*.json``, which kops' own 1.8.0
``docs/iam_roles.md`` names as the reference. Written from that behaviour
(docs/kops-fidelity.md lists it statement by statement), not translated from Go; the golden
corpus (``tests/golden/kops``) holds kops' files and checks every case.

Where kops-iam differs from kops 1.8.0 on purpose (KMS and Route53 ARNs, partitions, identical
state-store locations), docs/kops-fidelity.md says why; nothing here differs otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from kops_iam.domain.model import JSONDict, RoleKind

ECR_ACTIONS: Final = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:BatchGetImage",
)
KMS_ACTIONS: Final = (
    "kms:CreateGrant",
    "kms:Decrypt",
    "kms:DescribeKey",
    "kms:Encrypt",
    "kms:GenerateDataKey*",
    "kms:ReEncrypt*",
)
ELB_ACTIONS: Final = tuple(
    f"elasticloadbalancing:{action}"
    for action in (
        "AttachLoadBalancerToSubnets",
        "ApplySecurityGroupsToLoadBalancer",
        "CreateLoadBalancer",
        "CreateLoadBalancerPolicy",
        "CreateLoadBalancerListeners",
        "ConfigureHealthCheck",
        "DeleteLoadBalancer",
        "DeleteLoadBalancerListeners",
        "DescribeLoadBalancers",
        "DescribeLoadBalancerAttributes",
        "DetachLoadBalancerFromSubnets",
        "DeregisterInstancesFromLoadBalancer",
        "ModifyLoadBalancerAttributes",
        "RegisterInstancesWithLoadBalancer",
        "SetLoadBalancerPoliciesForBackendServer",
    )
)
#: What a strict node may read under each state-store root, in kops' order.
NODE_STATE_STORE_PATHS: Final = (
    "/addons/*",
    "/cluster.spec",
    "/config",
    "/instancegroup/*",
    "/pki/issued/*",
    "/pki/private/kube-proxy/*",
    "/pki/private/kubelet/*",
    "/pki/ssh/*",
    "/secrets/dockerconfig",
)
#: The tag kops puts on the EC2 and Auto Scaling resources of a cluster.
CLUSTER_TAG: Final = "KubernetesCluster"


@dataclass(frozen=True)
class StoreRoot:
    """An ``s3://`` state-store root: its bucket and the key prefix under it (no slashes
    at either end; empty for the whole bucket)."""

    bucket: str
    key: str


@dataclass(frozen=True)
class StrictInputs:
    """Everything kops 1.8.0's strict builder reads, resolved (lookups done).

    Parameters
    ----------
    cluster
        ``metadata.name``: the value of the ``KubernetesCluster`` tag conditions.
    partition
        The cluster's AWS partition (``aws``, ``aws-cn``, ``aws-us-gov``).
    roots
        The S3 state-store roots, in kops' order (key store, secret store, config store).
    kms_keys
        Key ARNs of the etcd members' ``kmsKeyId``, in spec order (duplicates kept, as kops).
    hosted_zone
        The hosted zone id, or ``None`` (gossip cluster: no Route53 rights at all).
    container_registry
        ``iam.allowContainerRegistry``.
    romana, kuberouter
        Whether ``spec.networking`` selects Romana or kube-router.
    """

    cluster: str
    partition: str
    roots: tuple[StoreRoot, ...]
    kms_keys: tuple[str, ...]
    hosted_zone: str | None
    container_registry: bool
    romana: bool
    kuberouter: bool


def _statement(
    sid: str,
    actions: Iterable[str],
    resources: Iterable[str] = ("*",),
    condition: JSONDict | None = None,
) -> JSONDict:
    statement: JSONDict = {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": list(resources),
    }
    if condition:
        statement["Condition"] = condition
    return statement


def _tagged(service: str, cluster: str) -> JSONDict:
    return {"StringEquals": {f"{service}:ResourceTag/{CLUSTER_TAG}": cluster}}


def _s3(inputs: StrictInputs, root: StoreRoot, suffix: str = "") -> str:
    path = f"{root.bucket}/{root.key}" if root.key else root.bucket
    return f"arn:{inputs.partition}:s3:::{path}{suffix}"


def _bucket(inputs: StrictInputs, root: StoreRoot) -> JSONDict:
    return _statement(
        "kopsK8sS3GetListBucket",
        ["s3:GetBucketLocation", "s3:ListBucket"],
        [f"arn:{inputs.partition}:s3:::{root.bucket}"],
    )


def master_statements(inputs: StrictInputs) -> list[JSONDict]:
    """The masters' policy: EC2, Auto Scaling and ELB scoped as kops 1.8.0 scoped them."""
    cluster = inputs.cluster
    statements = [
        _statement(
            "kopsK8sEC2MasterPermsDescribeResources",
            [
                "ec2:DescribeInstances",
                "ec2:DescribeRouteTables",
                "ec2:DescribeSecurityGroups",
                "ec2:DescribeSubnets",
                "ec2:DescribeVolumes",
            ],
        ),
        _statement(
            "kopsK8sEC2MasterPermsAllResources",
            [
                "ec2:CreateRoute",
                "ec2:CreateSecurityGroup",
                "ec2:CreateTags",
                "ec2:CreateVolume",
                "ec2:ModifyInstanceAttribute",
            ],
        ),
        _statement(
            "kopsK8sEC2MasterPermsTaggedResources",
            [
                "ec2:AttachVolume",
                "ec2:AuthorizeSecurityGroupIngress",
                "ec2:DeleteRoute",
                "ec2:DeleteSecurityGroup",
                "ec2:DeleteVolume",
                "ec2:DetachVolume",
                "ec2:RevokeSecurityGroupIngress",
            ],
            condition=_tagged("ec2", cluster),
        ),
        _statement(
            "kopsK8sASMasterPermsAllResources",
            [
                "autoscaling:DescribeAutoScalingGroups",
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling:GetAsgForInstance",
            ],
        ),
        _statement(
            "kopsK8sASMasterPermsTaggedResources",
            [
                "autoscaling:SetDesiredCapacity",
                "autoscaling:TerminateInstanceInAutoScalingGroup",
                "autoscaling:UpdateAutoScalingGroup",
            ],
            condition=_tagged("autoscaling", cluster),
        ),
        _statement("kopsK8sELBMasterPermsRestrictive", ELB_ACTIONS),
        _statement(
            "kopsMasterCertIAMPerms", ["iam:ListServerCertificates", "iam:GetServerCertificate"]
        ),
    ]
    for root in inputs.roots:
        statements.append(_bucket(inputs, root))
        statements.append(
            _statement("kopsK8sS3MasterBucketFullGet", ["s3:Get*"], [_s3(inputs, root, "/*")])
        )
    if inputs.kms_keys:
        statements.append(_statement("kopsK8sKMSEncryptedVolumes", KMS_ACTIONS, inputs.kms_keys))
    if inputs.hosted_zone is not None:
        statements += route53_statements(inputs.partition, inputs.hosted_zone)
    if inputs.container_registry:
        statements.append(_statement("kopsK8sECR", ECR_ACTIONS))
    if inputs.romana:
        statements.append(
            _statement(
                "kopsK8sEC2MasterPermsRomanaCNI",
                ["ec2:DescribeAvailabilityZones", "ec2:DescribeVpcs"],
            )
        )
    return statements


def route53_statements(partition: str, hosted_zone: str) -> list[JSONDict]:
    """Change records in the cluster's zone only; read changes; list zones."""
    return [
        _statement(
            "kopsK8sRoute53Change",
            [
                "route53:ChangeResourceRecordSets",
                "route53:ListResourceRecordSets",
                "route53:GetHostedZone",
            ],
            [f"arn:{partition}:route53:::hostedzone/{hosted_zone}"],
        ),
        _statement(
            "kopsK8sRoute53GetChanges",
            ["route53:GetChange"],
            [f"arn:{partition}:route53:::change/*"],
        ),
        _statement("kopsK8sRoute53ListZones", ["route53:ListHostedZones"]),
    ]


def node_statements(inputs: StrictInputs) -> list[JSONDict]:
    """The nodes' policy: describe instances, read their bootstrap files, optionally ECR."""
    statements = [_statement("kopsK8sEC2NodePerms", ["ec2:DescribeInstances"])]
    for root in inputs.roots:
        statements.append(_bucket(inputs, root))
        statements.append(
            _statement(
                "kopsK8sS3NodeBucketSelectiveGet",
                ["s3:Get*"],
                [_s3(inputs, root, path) for path in NODE_STATE_STORE_PATHS],
            )
        )
        if inputs.kuberouter:
            statements.append(
                _statement(
                    "kopsK8sS3NodeBucketGetKuberouter",
                    ["s3:Get*"],
                    [_s3(inputs, root, "/pki/private/kube-router/*")],
                )
            )
    if inputs.container_registry:
        statements.append(_statement("kopsK8sECR", ECR_ACTIONS))
    return statements


def bastion_statements() -> list[JSONDict]:
    """The bastions' policy (the same in both modes): IAM rejects an empty one."""
    return [_statement("kopsK8sBastion", ["ec2:DescribeRegions"])]


def strict_statements(kind: RoleKind, inputs: StrictInputs) -> list[JSONDict]:
    """The main policy's statements of one role in strict mode."""
    if kind == "master":
        return master_statements(inputs)
    if kind == "node":
        return node_statements(inputs)
    return bastion_statements()


def store_roots(locations: Sequence[str]) -> tuple[list[str], list[str]]:
    """kops 1.8.0's state-store roots among ``locations`` (key, secret, config store).

    Each location gets a trailing ``/``; one that lies under another is dropped (its
    rights are covered). kops 1.8.0 also dropped *both* of two identical locations (so a
    ``keyStore`` equal to ``configBase`` left nodes without any state-store right); kops-iam
    keeps one (deviation ``identical-store-locations``).

    Returns
    -------
    tuple
        ``(roots, dropped)``: the roots in kops' order, and the locations left out.
    """
    normalized = [loc if loc.endswith("/") else f"{loc}/" for loc in locations if loc]
    roots: list[str] = []
    dropped: list[str] = []
    for index, location in enumerate(normalized):
        covered = (
            any(other != location and location.startswith(other) for other in normalized)
            or location in normalized[:index]
        )
        (dropped if covered else roots).append(location)
    return roots, dropped
