"""The reconciler function's own IAM rights: the narrowest statements that let it work.

A pure function of the stack settings and a few ARNs, so tests can read every statement.
Each statement has a ``Sid`` saying what it is for; docs/adr/0012 explains the choices,
docs/security.md summarises them. In short:

* IAM writes only on roles and instance profiles named the way kops names them
  (:data:`~kops_iam.domain.naming.ROLE_NAME_PREFIXES`), and - unless the operator enables
  adoption - only on those carrying kops-iam's ownership tag.
* ``iam:CreateRole`` / ``iam:CreateInstanceProfile`` only with the ownership tag in the
  request, and ``iam:CreateRole`` only with the operator's permissions boundary when one
  is configured (which the function can then set but never remove).
* ``iam:AttachRolePolicy`` only for operator-allowed ARNs (detaching, which only removes
  rights, for any).
* The ownership tag can be added (on create) but never removed, nor added to a role or
  profile kops tagged for a cluster kops-iam does not own (explicit deny).
* ``iam:PassRole`` only for kops roles, only to EC2: ``AddRoleToInstanceProfile`` requires it.
* No ``iam:*``, and ``"*"`` only where AWS offers no resource-level permission
  (``route53:ListHostedZonesByName``; X-Ray, added by CDK for active tracing, outside this
  module).
* S3: read ``*/config`` and ``*/instancegroup/*`` objects only, never anything under a
  state store's ``pki/``, ``secrets/`` or ``addons/`` (explicit deny), list the bucket.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from aws_cdk import aws_iam as iam

from infra.config import StackConfig
from kops_iam.aws.audit import AUDIT_SOURCE
from kops_iam.domain.naming import (
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROLE_NAME_PREFIXES,
    ec2_service_principal,
)
from kops_iam.domain.state_store import (
    INSTANCE_GROUP_DIRECTORY,
    PRIVATE_DIRECTORIES,
    SPEC_KEY_SUFFIX,
)

#: Resource-tag condition keys: roles document ``iam:ResourceTag``, instance profiles only
#: ``aws:ResourceTag`` (AWS service authorization reference).
ROLE_TAG: Final = "iam:ResourceTag"
PROFILE_TAG: Final = "aws:ResourceTag"
#: The tag kops itself puts on the IAM roles and instance profiles of a cluster.
KOPS_CLUSTER_TAG_KEY: Final = "KubernetesCluster"

#: Partitions whose EC2 principal a kops role may be passed to (``aws-us-gov`` = ``aws``).
PARTITIONS: Final = ("aws", "aws-cn")

ROLE_READS: Final = (
    "iam:GetRole",
    "iam:ListRoleTags",
    "iam:ListRolePolicies",
    "iam:GetRolePolicy",
    "iam:ListAttachedRolePolicies",
    "iam:ListInstanceProfilesForRole",
)
ROLE_WRITES: Final = (
    "iam:DeleteRole",
    "iam:TagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    # Detaching only ever removes rights; allowed for any policy so drift (say, someone
    # attaching AdministratorAccess to a nodes role) can be undone and roles deleted.
    "iam:DetachRolePolicy",
)
PROFILE_WRITES: Final = (
    "iam:DeleteInstanceProfile",
    "iam:AddRoleToInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
    "iam:TagInstanceProfile",
)
BOUNDARY_WRITES: Final = ("iam:PutRolePermissionsBoundary", "iam:DeleteRolePermissionsBoundary")
MANAGED_POLICY_ATTACH: Final = ("iam:AttachRolePolicy",)
#: Reading a spec or InstanceGroup object (a version pinned by id or ETag).
SPEC_READS: Final = ("s3:GetObject", "s3:GetObjectVersion")


@dataclass(frozen=True)
class Targets:
    """ARNs (CDK tokens allowed) of what the function works on.

    Parameters
    ----------
    partition, account, region
        Where the stack is deployed (``Aws.PARTITION`` etc. for an environment-agnostic stack).
    bucket_arn
        The specs bucket.
    audit_bus_arn
        The audit event bus.
    log_group_arn
        The function's own log group (``arn:...:log-group:NAME``, without ``:*``).
    url_suffix
        The partition's domain (``Aws.URL_SUFFIX`` in the stack: ``amazonaws.com``,
        ``amazonaws.com.cn`` in China); service endpoint names are built with it.
    """

    partition: str
    account: str
    region: str
    bucket_arn: str
    audit_bus_arn: str
    log_group_arn: str
    url_suffix: str = "amazonaws.com"

    def iam_arns(self, resource_type: str) -> list[str]:
        """``role`` or ``instance-profile`` ARN patterns covering the kops names."""
        return [
            f"arn:{self.partition}:iam::{self.account}:{resource_type}/{prefix}*"
            for prefix in ROLE_NAME_PREFIXES
        ]

    @property
    def spec_objects_arn(self) -> str:
        """Objects whose key ends with the spec suffix (``<cluster>/config``)."""
        return f"{self.bucket_arn}/*{SPEC_KEY_SUFFIX}"

    @property
    def instance_group_objects_arn(self) -> str:
        """A cluster's InstanceGroup objects (``<cluster>/instancegroup/<name>``)."""
        return f"{self.bucket_arn}/*/{INSTANCE_GROUP_DIRECTORY}/*"

    @property
    def private_objects_arns(self) -> list[str]:
        """What a kops state store keeps besides specs: keys, secrets, addons (docs/adr/0093)."""
        return [f"{self.bucket_arn}/*/{directory}/*" for directory in PRIVATE_DIRECTORIES]

    @property
    def kms_keys_arn(self) -> str:
        """Every KMS key of this account, any region (etcd keys live in the cluster's region)."""
        return f"arn:{self.partition}:kms:*:{self.account}:key/*"

    def wildcard_reasons(self) -> dict[str, str]:
        """Why each wildcard resource these statements use cannot be narrower."""
        reasons = {
            self.spec_objects_arn: (
                "Only cluster spec objects (<cluster>/config); nothing else a kops state "
                "store holds (keys, secrets, other config) is readable. Cluster names are "
                "only known at run time."
            ),
            self.instance_group_objects_arn: (
                "A cluster's InstanceGroup objects (<cluster>/instancegroup/<name>), which "
                "decide its roles; cluster and group names are only known at run time. An "
                "explicit deny keeps pki/, secrets/ and addons/ unreadable whatever they hold."
            ),
            **{
                arn: (
                    "Explicit deny: nothing a kops state store keeps under pki/, secrets/ or "
                    "addons/ is ever readable, whatever its name."
                )
                for arn in self.private_objects_arns
            },
            "*": (
                "route53:ListHostedZonesByName (a strict spec's hosted zone, by name) has no "
                'resource-level permission: AWS only accepts Resource "*". It returns zone '
                "ids, names and privacy, never records."
            ),
            self.kms_keys_arn: (
                "kms:DescribeKey resolves the etcd kmsKeyId (alias or id) a spec names to an "
                "ARN; it may be any key of this account, in the cluster's region. "
                "DescribeKey returns metadata only: no key material, no crypto operation."
            ),
            f"{self.log_group_arn}:*": (
                "Log streams of the function's own log group; Lambda names them at run time."
            ),
        }
        for resource_type in ("role", "instance-profile"):
            for arn in self.iam_arns(resource_type):
                reasons[arn] = (
                    f"kops names each cluster's {resource_type} <prefix>.<cluster name>; "
                    "clusters come and go at run time, so the prefix is the narrowest "
                    "stable scope. Writes also need kops-iam's ownership tag (unless the "
                    "operator enabled adoption), creates must carry it."
                )
        return reasons


#: An IAM ``Condition`` block: operator -> condition key -> value(s).
Conditions = dict[str, dict[str, object]]


def _owned(resource_tag: str) -> Conditions:
    """The resource carries the ownership tag (``resource_tag``: the condition key prefix)."""
    return {"StringEquals": {f"{resource_tag}/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE}}


def _requests_ownership() -> Conditions:
    return {
        "StringEquals": {f"aws:RequestTag/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE},
        "ForAnyValue:StringEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY]},
    }


def _keeps_ownership() -> Conditions:
    """The request does not remove the ownership tag."""
    return {"ForAllValues:StringNotEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY]}}


def _claims_foreign_kops_resource(resource_tag: str) -> Conditions:
    """Tagging, with the ownership tag, a resource kops tagged but kops-iam does not own.

    Safe for tag-on-create whichever way IAM fills the resource tags then: empty (the
    ``KubernetesCluster`` key is null) or from the request (the ownership key is set).
    """
    return {
        "Null": {
            f"aws:RequestTag/{OWNERSHIP_TAG_KEY}": "false",
            f"{resource_tag}/{OWNERSHIP_TAG_KEY}": "true",
            f"{resource_tag}/{KOPS_CLUSTER_TAG_KEY}": "false",
        }
    }


def _merge(*conditions: Conditions | None) -> Conditions:
    merged: Conditions = {}
    for condition in conditions:
        for operator, entries in (condition or {}).items():
            merged.setdefault(operator, {}).update(entries)
    return merged


def _statement(
    sid: str,
    actions: Sequence[str],
    resources: Sequence[str],
    conditions: Conditions | None = None,
    effect: iam.Effect = iam.Effect.ALLOW,
) -> iam.PolicyStatement:
    return iam.PolicyStatement(
        sid=sid,
        effect=effect,
        actions=list(actions),
        resources=list(resources),
        conditions=conditions or None,
    )


def reconciler_statements(config: StackConfig, targets: Targets) -> list[iam.PolicyStatement]:
    """Every statement of the reconciler function's IAM policy.

    Parameters
    ----------
    config
        The stack settings (boundary, allowed managed policies, adoption, existing bucket key).
    targets
        ARNs of the bucket, bus and log group, and where the stack is deployed.

    Returns
    -------
    list of aws_iam.PolicyStatement
        Statements with a ``Sid`` each; nothing grants ``iam:*``, and ``"*"`` only for
        ``route53:ListHostedZonesByName``. All allow, but one deny keeps a state store's
        keys, secrets and addons unreadable, and two (without adoption) keep foreign kops
        roles and profiles from being claimed by tagging them.
    """
    roles = targets.iam_arns("role")
    profiles = targets.iam_arns("instance-profile")
    # Unless adoption is enabled, writes on existing resources need kops-iam's ownership tag.
    adopt = config.adopt_existing_roles
    owned = None if adopt else _owned(ROLE_TAG)
    owned_profile = None if adopt else _owned(PROFILE_TAG)
    boundary = config.permissions_boundary_arn

    statements = [
        _statement(
            "ReadClusterSpecs",
            SPEC_READS,
            [targets.spec_objects_arn, targets.instance_group_objects_arn],
        ),
        # */config and */instancegroup/* also match a secret named "config" or a keyset
        # named "instancegroup": nothing under pki/, secrets/ or addons/ is ever readable.
        _statement(
            "NeverReadStateStoreSecrets",
            SPEC_READS,
            targets.private_objects_arns,
            effect=iam.Effect.DENY,
        ),
        _statement("ListClusterSpecs", ["s3:ListBucket"], [targets.bucket_arn]),
    ]
    if config.existing_bucket_key_arn:
        statements.append(
            _statement(
                "DecryptClusterSpecsThroughS3",
                ["kms:Decrypt"],
                [config.existing_bucket_key_arn],
                # The endpoint name of S3 in this region, in this partition (docs/adr/0075).
                {"StringEquals": {"kms:ViaService": f"s3.{targets.region}.{targets.url_suffix}"}},
            )
        )
    statements += [
        _statement(
            "PublishAuditEvents",
            ["events:PutEvents"],
            [targets.audit_bus_arn],
            {"StringEquals": {"events:source": [AUDIT_SOURCE]}},
        ),
        _statement("ResolveKmsKeyAliases", ["kms:DescribeKey"], [targets.kms_keys_arn]),
        # A strict spec's hosted zone (docs/adr/0092): zone metadata only; AWS offers no
        # resource-level permission for it.
        _statement("FindHostedZones", ["route53:ListHostedZonesByName"], ["*"]),
        _statement(
            "WriteOwnLogs",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            [f"{targets.log_group_arn}:*"],
        ),
        _statement("ReadKopsRoles", ROLE_READS, roles),
        _statement("ReadKopsInstanceProfiles", ["iam:GetInstanceProfile"], profiles),
        _statement(
            "CreateOwnedRoles",
            ["iam:CreateRole"],
            roles,
            _merge(
                _requests_ownership(),
                {"StringEquals": {"iam:PermissionsBoundary": boundary}} if boundary else None,
            ),
        ),
        # CreateRole with tags is also authorised as iam:TagRole; IAM cannot tell that
        # apart from tagging an existing role, so this is limited to requests that carry
        # the ownership tag (see docs/adr/0012).
        _statement("TagRolesOnCreate", ["iam:TagRole"], roles, _requests_ownership()),
        _statement("ManageKopsRoles", ROLE_WRITES, roles, owned),
        _statement(
            "UntagKopsRolesButNotOwnership",
            ["iam:UntagRole"],
            roles,
            _merge(owned, _keeps_ownership()),
        ),
    ]
    if boundary:
        statements.append(
            _statement(
                "SetOperatorBoundaryOnly",
                ["iam:PutRolePermissionsBoundary"],
                roles,
                _merge(owned, {"StringEquals": {"iam:PermissionsBoundary": boundary}}),
            )
        )
    else:
        statements.append(_statement("ManageSpecBoundaries", BOUNDARY_WRITES, roles, owned))
    if config.allowed_managed_policy_arns:
        statements.append(
            _statement(
                "AttachAllowedManagedPoliciesOnly",
                MANAGED_POLICY_ATTACH,
                roles,
                _merge(
                    owned,
                    {"ArnEquals": {"iam:PolicyARN": list(config.allowed_managed_policy_arns)}},
                ),
            )
        )
    statements += [
        _statement(
            "PassKopsRolesToEc2",
            ["iam:PassRole"],
            roles,
            _merge(
                owned,
                {
                    "StringEquals": {
                        "iam:PassedToService": [ec2_service_principal(p) for p in PARTITIONS]
                    }
                },
            ),
        ),
        _statement(
            "CreateOwnedInstanceProfiles",
            ["iam:CreateInstanceProfile"],
            profiles,
            _requests_ownership(),
        ),
        _statement(
            "TagInstanceProfilesOnCreate",
            ["iam:TagInstanceProfile"],
            profiles,
            _requests_ownership(),
        ),
        _statement("ManageKopsInstanceProfiles", PROFILE_WRITES, profiles, owned_profile),
        _statement(
            "UntagKopsInstanceProfilesButNotOwnership",
            ["iam:UntagInstanceProfile"],
            profiles,
            _merge(owned_profile, _keeps_ownership()),
        ),
    ]
    if not adopt:
        # IAM also authorises CreateRole/CreateInstanceProfile with tags as TagRole /
        # TagInstanceProfile, so those must be allowed with the ownership tag on any kops
        # name (above). These denies stop that from claiming what kops made for a cluster
        # kops-iam does not manage (docs/adr/0012).
        statements += [
            _statement(
                "NeverClaimForeignKopsRoles",
                ["iam:TagRole"],
                roles,
                _claims_foreign_kops_resource(ROLE_TAG),
                iam.Effect.DENY,
            ),
            _statement(
                "NeverClaimForeignKopsInstanceProfiles",
                ["iam:TagInstanceProfile"],
                profiles,
                _claims_foreign_kops_resource(PROFILE_TAG),
                iam.Effect.DENY,
            ),
        ]
    return statements
