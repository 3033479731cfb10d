"""Policy computation: a validated spec -> the roles and policies kops documents. Pure.

The master and node permissions are the ones kops' "IAM Roles" page lists; the KMS grant,
the state-store S3 grants, the bastion's single statement, the EC2 trust policy and the
tags follow what kops itself did. Output is deterministic: the same spec gives a
byte-identical plan.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Final

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ROLE_KINDS, ClusterPlan, JSONDict, RoleKind, RolePlan
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    KOPS_CLUSTER_TAG_KEY,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    additional_policy_name,
    ec2_service_principal,
    role_name,
)
from kops_iam.domain.options import Options
from kops_iam.domain.spec import CLUSTER_TAG_PREFIX, ClusterSpec, KmsKeyRef

POLICY_VERSION: Final = "2012-10-17"
#: IAM's limit on the inline policies of one role together, whitespace not counted.
MAX_INLINE_POLICY_CHARS: Final = 10_240

ECR_READ_ACTIONS: Final = (
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:BatchGetImage",
)
KMS_ETCD_ACTIONS: Final = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncrypt*",
    "kms:GenerateDataKey*",
    "kms:DescribeKey",
    "kms:CreateGrant",
    "kms:ListGrants",
    "kms:RevokeGrant",
)

AliasResolver = Callable[[str], str]


def _statement(sid: str, actions: Iterable[str], resources: Iterable[str]) -> JSONDict:
    return {"Sid": sid, "Effect": "Allow", "Action": list(actions), "Resource": list(resources)}


def master_statements() -> list[JSONDict]:
    """The documented master permissions (without the optional KMS and S3 grants)."""
    return [
        _statement("kopsK8sEC2MasterPermsFullAccess", ["ec2:*"], ["*"]),
        _statement("kopsK8sRoute53FullAccess", ["route53:*"], ["*"]),
        _statement("kopsK8sELBFullAccess", ["elasticloadbalancing:*"], ["*"]),
        _statement("kopsK8sECR", ECR_READ_ACTIONS, ["*"]),
    ]


def node_statements() -> list[JSONDict]:
    """The documented node permissions (without the S3 state-store grants)."""
    return [
        _statement("kopsK8sEC2NodePerms", ["ec2:Describe*"], ["*"]),
        _statement("kopsK8sRoute53FullAccess", ["route53:*"], ["*"]),
        _statement("kopsK8sECR", ECR_READ_ACTIONS, ["*"]),
    ]


def bastion_statements() -> list[JSONDict]:
    """IAM rejects an empty policy, so kops gave the bastion one harmless statement."""
    return [_statement("kopsK8sBastion", ["ec2:DescribeRegions"], ["*"])]


def state_store_statements(spec: ClusterSpec) -> list[JSONDict]:
    """``s3:*`` on each state-store path and its subtree; list/locate on each bucket."""
    if not spec.state_store:
        return []
    arn = f"arn:{spec.partition}:s3:::"
    objects: set[str] = set()
    buckets: set[str] = set()
    for store in spec.state_store:
        buckets.add(f"{arn}{store.bucket}")
        if store.path:
            objects.update(
                {f"{arn}{store.bucket}/{store.path}", f"{arn}{store.bucket}/{store.path}/*"}
            )
        else:
            objects.add(f"{arn}{store.bucket}/*")
    return [
        _statement("kopsK8sS3StateStore", ["s3:*"], sorted(objects)),
        _statement(
            "kopsK8sS3StateStoreBucket", ["s3:GetBucketLocation", "s3:ListBucket"], sorted(buckets)
        ),
    ]


def kms_key_arns(
    spec: ClusterSpec, options: Options, resolve_alias: AliasResolver | None
) -> tuple[list[str], list[Issue]]:
    """Sorted distinct key ARNs of encrypted etcd volumes, or the reasons they can't be had."""
    arns: set[str] = set()
    issues: list[Issue] = []
    for ref in spec.kms_keys:
        arn = _key_arn(ref, spec, options, resolve_alias, issues)
        if arn:
            arns.add(arn)
    return sorted(arns), issues


def _key_arn(
    ref: KmsKeyRef,
    spec: ClusterSpec,
    options: Options,
    resolve_alias: AliasResolver | None,
    issues: list[Issue],
) -> str | None:
    if ref.form == "arn":
        return ref.value
    if ref.form == "id":
        if options.account_id is None:
            issues.append(
                Issue(
                    ref.path,
                    "a bare key id needs the account id to form its ARN; "
                    "pass --account-id (the Lambda uses its own account)",
                )
            )
            return None
        return f"arn:{spec.partition}:kms:{spec.region}:{options.account_id}:key/{ref.value}"
    if resolve_alias is None:
        issues.append(
            Issue(
                ref.path,
                f"alias {ref.value!r} can only be resolved through KMS when "
                "applying (kops-iam plan/apply or the Lambda); give the key ARN to "
                "render offline",
            )
        )
        return None
    try:
        return resolve_alias(ref.value)
    except LookupError as exc:
        issues.append(Issue(ref.path, f"alias {ref.value!r} could not be resolved: {exc}"))
        return None


def policy_document(statements: Iterable[JSONDict]) -> JSONDict:
    return {"Version": POLICY_VERSION, "Statement": list(statements)}


def assume_role_policy(partition: str) -> JSONDict:
    """The trust policy: EC2 instances may assume the role."""
    return {
        "Version": POLICY_VERSION,
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": ec2_service_principal(partition)},
                "Action": "sts:AssumeRole",
            }
        ],
    }


def role_tags(cluster: str, name: str, labels: Mapping[str, str]) -> dict[str, str]:
    tags = dict(labels)
    tags.update(
        {
            "Name": name,
            KOPS_CLUSTER_TAG_KEY: cluster,
            f"{CLUSTER_TAG_PREFIX}{cluster}": "owned",
            OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE,
            CLUSTER_TAG_KEY: cluster,
        }
    )
    return dict(sorted(tags.items()))


def policy_size(document: JSONDict) -> int:
    """Characters IAM counts for a policy: its JSON text without whitespace."""
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    # str.split() splits on exactly the characters str.isspace() calls whitespace.
    return sum(map(len, text.split()))


def build_plan(
    spec: ClusterSpec,
    options: Options | None = None,
    resolve_alias: AliasResolver | None = None,
) -> ClusterPlan:
    """Compute every role, instance profile and policy a validated spec asks for.

    Parameters
    ----------
    spec
        A validated cluster spec.
    options
        Operator options (the account id for bare KMS key ids).
    resolve_alias
        Turns a KMS alias into its key ARN (KMS ``DescribeKey``); ``None`` offline.

    Raises
    ------
    SpecInvalid
        When a KMS key cannot be turned into an ARN, or a role's inline policies exceed
        IAM's size limit.
    """
    options = options or Options()
    key_arns, issues = kms_key_arns(spec, options, resolve_alias)
    store = state_store_statements(spec)
    base: dict[RoleKind, list[JSONDict]] = {
        "master": master_statements() + store,
        "node": node_statements() + store,
    }
    if key_arns:
        base["master"].append(_statement("kopsK8sEtcdKMS", KMS_ETCD_ACTIONS, key_arns))
    if spec.has_bastion:
        base["bastion"] = bastion_statements()

    roles: dict[RoleKind, RolePlan] = {}
    for kind in ROLE_KINDS:
        if kind not in base:
            continue
        name = role_name(kind, spec.name)
        inline = {name: policy_document(base[kind])}
        if kind in spec.additional_policies:
            inline[additional_policy_name(name)] = policy_document(
                spec.additional_policies[kind][1]
            )
        size = sum(policy_size(doc) for doc in inline.values())
        if size > MAX_INLINE_POLICY_CHARS:
            path = spec.additional_policies[kind][0] if kind in spec.additional_policies else "spec"
            issues.append(
                Issue(
                    path,
                    f"role {name}: inline policies total {size:,} characters "
                    f"(whitespace not counted), over IAM's {MAX_INLINE_POLICY_CHARS:,} "
                    "limit",
                )
            )
        roles[kind] = RolePlan(
            kind=kind,
            role_name=name,
            instance_profile_name=name,
            assume_role_policy=assume_role_policy(spec.partition),
            permissions_boundary=spec.permissions_boundary,
            tags=role_tags(spec.name, name, spec.cloud_labels),
            managed_policy_arns=spec.external_policies.get(kind, ()),
            inline_policies=inline,
        )
    if issues:
        raise SpecInvalid(issues, spec.warnings)
    return ClusterPlan(
        cluster=spec.name,
        partition=spec.partition,
        region=spec.region,
        warnings=tuple(str(w) for w in spec.warnings),
        roles=roles,
    )
