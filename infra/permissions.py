"""The reconciler function's own IAM rights: the narrowest statements that let it work.

A pure function of the stack settings and a few ARNs, so tests can read every statement.
Each statement has a ``Sid`` saying what it is for; docs/adr/0012 and 0061 explain the
choices, docs/security.md summarises them. In short:

* IAM writes only on roles and instance profiles **under kops-iam's own IAM path**
  (:data:`~kops_iam.domain.naming.MANAGED_PATH`, where only kops-iam creates anything), and
  - unless the operator enables adoption - only on those carrying kops-iam's ownership
  tag. A role elsewhere (kops' own at ``/``, hand-made ones) cannot be touched whatever
  its tags: a path never changes. Kops-named roles kops-iam created at ``/`` before 0061
  are writable (if owned) only when the operator sets ``kops-iam:manageRootPathRoles``
  (adoption implies it).
* ``iam:CreateRole`` / ``iam:CreateInstanceProfile`` only under that path, only with the
  ownership and cluster tags in the request, and ``iam:CreateRole`` only with the
  operator's permissions boundary when one is configured (which the function can then set
  but never remove).
* ``iam:AttachRolePolicy`` only for operator-allowed ARNs (detaching, which only removes
  rights, for any).
* Explicit denies: the ownership and cluster tags can never be removed, nor the cluster
  tag changed to another cluster; with root-path writes, nothing below a kops-named path
  segment (``role/nodes.x/Admin``) can be touched.
* ``iam:PassRole`` only for those roles, only to EC2: ``AddRoleToInstanceProfile`` needs it.
* No allow of ``iam:*`` (one deny uses it), and ``"*"`` only where AWS offers no
  resource-level permission (``route53:ListHostedZonesByName``;
  ``iam:GetAccountAuthorizationDetails`` when drift checks read IAM in bulk,
  docs/adr/0111; X-Ray, added by CDK for active tracing, outside this module).
* SQS: send drift checks to the drift queue and put checks off there (docs/adr/0110); the
  queue's event source mapping adds what it needs to receive and delete, outside this module.
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
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROLE_NAME_PREFIXES,
    ROOT_PATH,
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
#: kops-iam's own tags: never removed, the cluster tag never changed to another cluster.
PROTECTED_TAG_KEYS: Final = (OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY)

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
#: Reading every role of the account at once (drift checks, docs/adr/0111).
BULK_READS: Final = ("iam:GetAccountAuthorizationDetails",)
#: On the drift queue: queue checks, put throttled ones off (docs/adr/0110, 0112).
DRIFT_QUEUE_ACTIONS: Final = ("sqs:SendMessage", "sqs:ChangeMessageVisibility")
#: The period's shared IAM snapshot: the schedule writes it, the workers read it.
SNAPSHOT_ACTIONS: Final = ("s3:PutObject", "s3:GetObject")
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
    #: The drift queue (``None``: a stack without the fan-out, as some tests build).
    drift_queue_arn: str | None = None
    url_suffix: str = "amazonaws.com"
    #: The shared snapshot's object (``None``: no snapshot bucket).
    snapshot_object_arn: str | None = None

    def iam_arns(self, resource_type: str, path: str = ROOT_PATH) -> list[str]:
        """ARN patterns the function may write at ``path``: under kops-iam's own path
        everything (only kops-iam creates there), elsewhere the kops names only."""
        base = f"arn:{self.partition}:iam::{self.account}:{resource_type}{path}"
        if path == MANAGED_PATH:
            return [f"{base}*"]
        return [f"{base}{prefix}*" for prefix in ROLE_NAME_PREFIXES]

    def readable_arns(self, resource_type: str) -> list[str]:
        """Kops names at any path (to report one where the function may not write, never
        to write it) and everything under kops-iam's own path."""
        return [
            *self.iam_arns(resource_type, ROOT_PATH),
            *self.iam_arns(resource_type, "/*/"),
            *self.iam_arns(resource_type, MANAGED_PATH),
        ]

    def every_arn(self, resource_type: str) -> str:
        """Every resource of ``resource_type`` in the account, at any path (for denies)."""
        return f"arn:{self.partition}:iam::{self.account}:{resource_type}/*"

    def nested_arns(self, resource_type: str) -> list[str]:
        """Anything *below* a kops-named path segment at ``/`` (``role/nodes.x/Admin``).

        IAM names cannot hold ``/``, so a kops role's ARN never has one after its name
        starts; these match only what someone put at a deeper path, which the root-path
        write patterns (``role/nodes.*``) would otherwise cover.
        """
        return [f"{arn}/*" for arn in self.iam_arns(resource_type, ROOT_PATH)]

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
                "route53:ListHostedZonesByName (a strict spec's hosted zone, by name) and, "
                "with kops-iam:driftRead or kops-iam:eventRead bulk, "
                "iam:GetAccountAuthorizationDetails (every role's policies in a few calls, "
                "docs/adr/0111, 0121) have no resource-level "
                'permission: AWS only accepts Resource "*". Both are read-only metadata: zone '
                "ids and names, never records; role and policy documents, never credentials."
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
            for arn in self.iam_arns(resource_type, MANAGED_PATH):
                reasons[arn] = (
                    f"Every {resource_type} kops-iam creates lives under its own IAM path "
                    f"{MANAGED_PATH} (docs/adr/0061), where nobody else creates any; clusters "
                    "come and go at run time. Creates must carry kops-iam's ownership and "
                    "cluster tags, other writes need the ownership tag (unless the operator "
                    "enabled adoption)."
                )
            for arn in self.iam_arns(resource_type, ROOT_PATH):
                reasons[arn] = (
                    f"kops names each cluster's {resource_type} <prefix>.<cluster name>. "
                    "Written at path / only when the operator keeps managing roles "
                    "kops-iam created there before 0061, or enables adoption, and then only "
                    "when owned (unless adoption): never created there."
                )
            for arn in self.iam_arns(resource_type, "/*/"):
                reasons[arn] = (
                    f"Reads only: a kops-named {resource_type} at another path is read so "
                    "that the function can report it instead of failing with AccessDenied."
                )
        return reasons


#: An IAM ``Condition`` block: operator -> condition key -> value(s).
Conditions = dict[str, dict[str, object]]


def _owned(resource_tag: str) -> Conditions:
    """The resource carries the ownership tag (``resource_tag``: the condition key prefix)."""
    return {"StringEquals": {f"{resource_tag}/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE}}


def _requests_ownership() -> Conditions:
    """The request sets the ownership tag and names a cluster (tag-on-create)."""
    return {
        "StringEquals": {f"aws:RequestTag/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE},
        "ForAnyValue:StringEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY]},
        "Null": {f"aws:RequestTag/{CLUSTER_TAG_KEY}": "false"},
    }


def _keeps_ownership() -> Conditions:
    """The request removes neither the ownership nor the cluster tag."""
    return {"ForAllValues:StringNotEquals": {"aws:TagKeys": list(PROTECTED_TAG_KEYS)}}


def _removes_ownership() -> Conditions:
    return {"ForAnyValue:StringEquals": {"aws:TagKeys": list(PROTECTED_TAG_KEYS)}}


def _reassigns_cluster(resource_tag: str) -> Conditions:
    """Tagging a resource that names its cluster with *another* cluster.

    ``${...}`` is a policy variable: the resource's current cluster tag. Safe for
    tag-on-create whichever way IAM fills resource tags then: empty (the ``Null`` block
    fails) or from the request (request and resource values are equal).
    """
    key = f"{resource_tag}/{CLUSTER_TAG_KEY}"
    return {
        "Null": {f"aws:RequestTag/{CLUSTER_TAG_KEY}": "false", key: "false"},
        "StringNotEquals": {f"aws:RequestTag/{CLUSTER_TAG_KEY}": "${" + key + "}"},
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


def writable_paths(config: StackConfig) -> tuple[str, ...]:
    """IAM paths whose kops-named roles and profiles the function may write."""
    if config.adopt_existing_roles or config.manage_root_path_roles:
        return (MANAGED_PATH, ROOT_PATH)
    return (MANAGED_PATH,)


def reconciler_statements(config: StackConfig, targets: Targets) -> list[iam.PolicyStatement]:
    """Every statement of the reconciler function's IAM policy.

    Parameters
    ----------
    config
        The stack settings (boundary, allowed managed policies, adoption, root-path roles,
        existing bucket key).
    targets
        ARNs of the bucket, bus and log group, and where the stack is deployed.

    Returns
    -------
    list of aws_iam.PolicyStatement
        Statements with a ``Sid`` each; no allow of ``iam:*``, and ``"*"`` only for
        ``route53:ListHostedZonesByName``. Allows, then the explicit denies that no allow
        can override (a state store's keys, secrets and addons stay unreadable; kops-iam's
        ownership and cluster tags stay as they are).
    """
    paths = writable_paths(config)
    root = ROOT_PATH in paths
    # Creates only ever happen under kops-iam's own path; every other write also on the
    # root path when the operator allows it (roles made there before 0061, or adoption).
    new_roles = targets.iam_arns("role", MANAGED_PATH)
    new_profiles = targets.iam_arns("instance-profile", MANAGED_PATH)
    roles = [arn for path in paths for arn in targets.iam_arns("role", path)]
    profiles = [arn for path in paths for arn in targets.iam_arns("instance-profile", path)]
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
        _statement(
            "ReadKopsRolesAndInstanceProfiles",
            [*ROLE_READS, "iam:GetInstanceProfile"],
            [*targets.readable_arns("role"), *targets.readable_arns("instance-profile")],
        ),
        *(
            # Drift checks and events read every role in a few calls; IAM cannot scope this
            # action to some roles (docs/adr/0111, 0121). Off when both
            # kops-iam:driftRead and kops-iam:eventRead are per-role.
            [_statement("ReadAccountRolesInBulk", BULK_READS, ["*"])]
            if "bulk" in (config.drift_read, config.event_read)
            else []
        ),
        _statement(
            "CreateOwnedRoles",
            ["iam:CreateRole"],
            new_roles,
            _merge(
                _requests_ownership(),
                {"StringEquals": {"iam:PermissionsBoundary": boundary}} if boundary else None,
            ),
        ),
        # CreateRole with tags is also authorised as iam:TagRole; IAM cannot tell that
        # apart from tagging an existing role, so this is limited to requests that carry
        # the ownership tag, under kops-iam's own path (see docs/adr/0012, 0061).
        _statement("TagRolesOnCreate", ["iam:TagRole"], new_roles, _requests_ownership()),
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
            new_profiles,
            _requests_ownership(),
        ),
        _statement(
            "TagInstanceProfilesOnCreate",
            ["iam:TagInstanceProfile"],
            new_profiles,
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
    # -- explicit denies: no allow above (or added later) can override them ----------------
    # They name every role and profile, whatever its path: shorter than the writable
    # patterns, and the function never does these anywhere.
    everything = [targets.every_arn("role"), targets.every_arn("instance-profile")]
    statements += [
        _statement(
            "NeverRemoveOwnershipTags",
            ["iam:UntagRole", "iam:UntagInstanceProfile"],
            everything,
            _removes_ownership(),
            iam.Effect.DENY,
        ),
        # A role or profile belongs to one cluster for life (docs/adr/0060). Roles document
        # aws:ResourceTag as well as iam:ResourceTag; instance profiles only aws:.
        _statement(
            "NeverReassignToAnotherCluster",
            ["iam:TagRole", "iam:TagInstanceProfile"],
            everything,
            _reassigns_cluster(PROFILE_TAG),
            iam.Effect.DENY,
        ),
    ]
    if root:
        # IAM names hold no "/", so role/nodes.* also matches a role "Admin" at path
        # /nodes.x/: never touch anything below a kops-named path segment.
        statements.append(
            _statement(
                "NeverTouchAnythingBelowAKopsNamedPath",
                ["iam:*"],
                [*targets.nested_arns("role"), *targets.nested_arns("instance-profile")],
                effect=iam.Effect.DENY,
            )
        )
    if targets.drift_queue_arn:
        # The schedule's run sends one check per cluster (SendMessageBatch is authorised as
        # SendMessage); a throttled worker puts checks off (ChangeMessageVisibility[Batch]).
        statements.append(
            _statement("QueueDriftChecks", DRIFT_QUEUE_ACTIONS, [targets.drift_queue_arn])
        )
    if targets.snapshot_object_arn:
        # One object: the period's IAM snapshot, for every worker (docs/adr/0117).
        statements.append(
            _statement("ShareDriftSnapshot", SNAPSHOT_ACTIONS, [targets.snapshot_object_arn])
        )
    return statements
