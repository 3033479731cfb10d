"""Policy computation: a validated spec -> the roles and policies kops documents. Pure.

Legacy mode (no ``iam`` block, or ``iam.legacy: true``): the master and node permissions
are the ones kops' "IAM Roles" page lists; the KMS grant, the state-store S3 grants, the
bastion's single statement, the EC2 trust policy and the tags follow what kops itself did.
Strict mode (an ``iam`` block without ``legacy: true``): kops 1.8.0's policies
(:mod:`kops_iam.domain.strict_policy`, docs/adr/0091), with the lookups they need. The roles
are the spec's (:mod:`kops_iam.domain.spec.roles`). Output is deterministic: the same spec
and lookups give a byte-identical plan.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Final

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.lookups import AliasResolver, Lookups
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
from kops_iam.domain.spec.stores import s3_path
from kops_iam.domain.strict_policy import StoreRoot, StrictInputs, store_roots, strict_statements

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
                    spec.at(ref.path),
                    "a bare key id needs the account id to form its ARN; "
                    "pass --account-id (the Lambda uses its own account)",
                    "lookup",
                )
            )
            return None
        return f"arn:{spec.partition}:kms:{spec.region}:{options.account_id}:key/{ref.value}"
    if resolve_alias is None:
        issues.append(
            Issue(
                spec.at(ref.path),
                f"alias {ref.value!r} can only be resolved through KMS when "
                "applying (kops-iam plan/apply or the Lambda); give the key ARN to "
                "render offline",
                "lookup",
            )
        )
        return None
    try:
        return resolve_alias(ref.value, spec.region)
    except LookupError as exc:
        issues.append(
            Issue(spec.at(ref.path), f"alias {ref.value!r} could not be resolved: {exc}", "lookup")
        )
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
    *,
    lookups: Lookups | None = None,
) -> ClusterPlan:
    """Compute every role, instance profile and policy a validated spec asks for.

    Parameters
    ----------
    spec
        A validated cluster spec.
    options
        Operator options (the account id for bare KMS key ids).
    resolve_alias
        Turns a KMS alias into its key ARN in the cluster's region (KMS ``DescribeKey``);
        ``None`` offline. Same as
        ``lookups.kms_alias``, which wins when both are given.
    lookups
        What kops looked up (:mod:`kops_iam.domain.lookups`): KMS aliases, the hosted zone
        and the state store of a strict spec.

    Raises
    ------
    SpecInvalid
        When a KMS key cannot be turned into an ARN, a lookup a strict spec needs cannot be
        made, or a role's inline policies exceed IAM's size limit.
    """
    options = options or Options()
    lookups = lookups or Lookups()
    resolve_alias = lookups.kms_alias or resolve_alias
    issues: list[Issue] = []
    if spec.iam_mode == "strict":
        base = _strict_base(spec, options, resolve_alias, lookups, issues)
    else:
        key_arns, kms_issues = kms_key_arns(spec, options, resolve_alias)
        issues += kms_issues
        store = state_store_statements(spec)
        base = {
            "master": master_statements() + store,
            "node": node_statements() + store,
            "bastion": bastion_statements(),
        }
        if key_arns:
            base["master"].append(_statement("kopsK8sEtcdKMS", KMS_ETCD_ACTIONS, key_arns))

    roles: dict[RoleKind, RolePlan] = {}
    for kind in ROLE_KINDS:
        if kind not in spec.roles:
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
                    spec.at(path),
                    f"role {name}: inline policies total {size:,} characters "
                    f"(whitespace not counted), over IAM's {MAX_INLINE_POLICY_CHARS:,} "
                    "limit",
                    "policy-size",
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
        iam_mode=spec.iam_mode,
    )


# -- strict mode (kops 1.8.0, docs/adr/0091): its lookups, then kops_iam.domain.strict_policy --


def _strict_base(
    spec: ClusterSpec,
    options: Options,
    resolve_alias: AliasResolver | None,
    lookups: Lookups,
    issues: list[Issue],
) -> dict[RoleKind, list[JSONDict]]:
    assert spec.strict is not None
    keys = [_key_arn(ref, spec, options, resolve_alias, issues) for ref in spec.kms_keys]
    inputs = StrictInputs(
        cluster=spec.name,
        partition=spec.partition,
        roots=_strict_roots(spec, lookups, issues),
        kms_keys=tuple(key for key in keys if key),
        hosted_zone=_hosted_zone(spec, lookups, issues),
        container_registry=spec.strict.container_registry,
        romana=spec.strict.romana,
        kuberouter=spec.strict.kuberouter,
    )
    return {kind: strict_statements(kind, inputs) for kind in ROLE_KINDS}


def _hosted_zone(spec: ClusterSpec, lookups: Lookups, issues: list[Issue]) -> str | None:
    assert spec.strict is not None
    if spec.strict.hosted_zone_id is not None:
        return spec.strict.hosted_zone_id
    query = spec.strict.hosted_zone
    if query is None:
        return None  # a gossip cluster: no Route53 rights
    if lookups.hosted_zone is None:
        issues.append(
            Issue(
                spec.at(query.path),
                f"strict IAM scopes Route53 to the cluster's hosted zone, the "
                f"{query.describe()}: give its id (render --hosted-zone-id ID, or "
                "spec.dnsZone: ID); kops-iam plan/apply and the Lambda look it up in Route53",
                "lookup",
            )
        )
        return None
    try:
        return lookups.hosted_zone(query)
    except LookupError as exc:
        issues.append(Issue(spec.at(query.path), f"hosted zone not found: {exc}", "lookup"))
        return None


def _strict_roots(
    spec: ClusterSpec, lookups: Lookups, issues: list[Issue]
) -> tuple[StoreRoot, ...]:
    assert spec.strict is not None
    store = spec.strict.store
    config_base = store.config_base[1] if store.config_base else lookups.config_base
    if config_base is None:
        issues.append(
            Issue(
                spec.at("spec.configBase"),
                "strict IAM grants the state store under configBase (kops always knew it): "
                "set spec.configBase, or give it (render --config-base s3://BUCKET/CLUSTER); "
                "the Lambda uses the bucket it read the spec from",
                "lookup",
            )
        )
        return ()
    base = config_base.rstrip("/")
    locations = [
        store.key_store[1] if store.key_store else f"{base}/pki",
        store.secret_store[1] if store.secret_store else f"{base}/secrets",
        base,
    ]
    roots, _dropped = store_roots(locations)
    found: list[StoreRoot] = []
    for root in roots:
        path = s3_path(None, "", root)
        if path is not None:
            found.append(StoreRoot(path.bucket, path.path))
        elif root.startswith("s3://"):  # only a looked-up configBase is unchecked so far
            issues.append(
                Issue(
                    spec.at("spec.configBase"), f"{root!r} is not an s3://bucket/path URL", "lookup"
                )
            )
    return tuple(found)
