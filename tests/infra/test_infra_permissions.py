"""The reconciler's own IAM statements, read straight from the pure builder.

Concrete ARNs (partition ``aws``, account 111122223333) stand in for the stack's tokens;
``test_infra_stack`` checks the synthesized policy is this one.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from infra_support import EXISTING_CONTEXT

from infra.config import StackConfig
from infra.permissions import Targets, reconciler_statements
from kops_iam.aws.audit import AUDIT_SOURCE
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
    ROLE_NAME_PREFIXES,
)

ACCOUNT = "111122223333"
TARGETS = Targets(
    partition="aws",
    account=ACCOUNT,
    region="eu-west-1",
    bucket_arn="arn:aws:s3:::specs",
    audit_bus_arn=f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/kops-iam-audit",
    log_group_arn=f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws/lambda/kops-iam-reconciler",
    drift_queue_arn=f"arn:aws:sqs:eu-west-1:{ACCOUNT}:KopsIam-DriftChecks",
)


def arns(resource_type: str, path: str) -> list[str]:
    return [f"arn:aws:iam::{ACCOUNT}:{resource_type}{path}{p}*" for p in ROLE_NAME_PREFIXES]


# Written: everything under kops-iam's own path (docs/adr/0061); kops names at / only when
# the operator allows it.
ROLES = [f"arn:aws:iam::{ACCOUNT}:role/kops-iam/*"]
PROFILES = [f"arn:aws:iam::{ACCOUNT}:instance-profile/kops-iam/*"]
ROOT_ROLES, ROOT_PROFILES = arns("role", "/"), arns("instance-profile", "/")
# Read: kops names at any path (one elsewhere is reported, not an AccessDenied).
READS = ROOT_ROLES + arns("role", "/*/") + ROLES + ROOT_PROFILES
READS += arns("instance-profile", "/*/") + PROFILES
NESTED = [f"{arn}/*" for arn in ROOT_ROLES + ROOT_PROFILES]
OWNED = {"StringEquals": {f"iam:ResourceTag/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE}}
# Instance profiles document only the aws: form of the resource-tag key.
OWNED_PROFILE = {"StringEquals": {f"aws:ResourceTag/{OWNERSHIP_TAG_KEY}": OWNERSHIP_TAG_VALUE}}
DENIES = {
    "NeverRemoveOwnershipTags",
    "NeverReassignToAnotherCluster",
    "NeverTouchAnythingBelowAKopsNamedPath",
    "NeverReadStateStoreSecrets",
}
BOUNDARY = "arn:aws:iam::111122223333:policy/kops-boundary"
MANAGED = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"


def statements(**context: Any) -> dict[str, dict[str, Any]]:
    """The statements (as IAM JSON) for a context, by Sid."""
    config = StackConfig.from_context(context)
    rendered = [s.to_statement_json() for s in reconciler_statements(config, TARGETS)]
    by_sid = {s["Sid"]: s for s in rendered}
    assert len(by_sid) == len(rendered)
    return by_sid


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


DEFAULT = statements()
HARDENED = statements(
    **{
        "kops-iam:permissionsBoundaryArn": BOUNDARY,
        "kops-iam:allowedManagedPolicyArns": MANAGED,
    }
)
ADOPTING = statements(**{"kops-iam:adoptExistingRoles": True})
ROOT_PATH_KEPT = statements(**{"kops-iam:manageRootPathRoles": True})
EVERYTHING = statements(**EXISTING_CONTEXT)
ALL = [DEFAULT, HARDENED, ADOPTING, ROOT_PATH_KEPT, EVERYTHING]


@pytest.mark.parametrize("policy", ALL)
def test_no_statement_grants_iam_star_or_any_action_wildcard(policy: dict[str, Any]) -> None:
    for sid, statement in policy.items():
        assert statement["Effect"] == ("Deny" if sid in DENIES else "Allow")
        if statement["Effect"] == "Allow":  # a deny may deny iam:*: that only takes away
            for action in as_list(statement["Action"]):
                assert "*" not in action, (sid, action)
        assert "NotAction" not in statement
        assert "NotResource" not in statement


STAR_ONLY = {
    # route53:ListHostedZonesByName has no resource-level permission (docs/adr/0092), nor
    # has iam:GetAccountAuthorizationDetails (docs/adr/0111)
    "FindHostedZones": ["route53:ListHostedZonesByName"],
    "ReadAccountRolesInBulk": ["iam:GetAccountAuthorizationDetails"],
}


@pytest.mark.parametrize("policy", ALL)
def test_resource_star_only_for_finding_hosted_zones_and_the_bulk_read(
    policy: dict[str, Any],
) -> None:
    for sid, statement in policy.items():
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Action"]) == STAR_ONLY[sid], sid
            assert as_list(statement["Resource"]) == ["*"]


@pytest.mark.parametrize(
    ("drift", "event", "granted"),
    [
        ("per-role", "bulk", True),
        ("bulk", "per-role", True),
        ("per-role", "per-role", False),
    ],
    ids=["events-bulk", "drift-bulk", "neither"],
)
def test_the_bulk_read_is_granted_only_when_drift_checks_or_events_read_in_bulk(
    drift: str, event: str, granted: bool
) -> None:
    # Given the default (bulk for both)
    assert DEFAULT["ReadAccountRolesInBulk"]["Action"] == "iam:GetAccountAuthorizationDetails"
    # When drift checks and events are set to read one way or the other
    chosen = statements(**{"kops-iam:driftRead": drift, "kops-iam:eventRead": event})
    # Then the account's roles can be read in bulk only if one of them reads in bulk
    assert ("ReadAccountRolesInBulk" in chosen) is granted
    assert (
        any("iam:GetAccountAuthorizationDetails" in as_list(s["Action"]) for s in chosen.values())
        is granted
    )


def test_drift_checks_are_queued_and_put_off_only_on_the_drift_queue() -> None:
    statement = DEFAULT["QueueDriftChecks"]
    assert sorted(as_list(statement["Action"])) == [
        "sqs:ChangeMessageVisibility",
        "sqs:SendMessage",
    ]
    assert statement["Resource"] == TARGETS.drift_queue_arn
    assert "Condition" not in statement
    # And without a drift queue there is no SQS statement at all
    config = StackConfig.from_context({})
    bare = dataclasses.replace(TARGETS, drift_queue_arn=None)
    assert not any(
        a.startswith("sqs:")
        for s in reconciler_statements(config, bare)
        for a in as_list(s.to_statement_json()["Action"])
    )


@pytest.mark.parametrize("policy", ALL)
def test_iam_actions_only_touch_kops_named_roles_and_profiles(policy: dict[str, Any]) -> None:
    # (but the read-only bulk read, which IAM cannot scope: see the test on "*" above)
    for sid, statement in policy.items():
        if statement["Effect"] == "Deny" or not as_list(statement["Action"])[0].startswith("iam:"):
            continue
        if sid == "ReadAccountRolesInBulk":
            continue
        resources = set(as_list(statement["Resource"]))
        if sid.startswith("Read"):
            assert resources <= set(READS), sid
        else:
            assert resources <= set(ROLES + PROFILES + ROOT_ROLES + ROOT_PROFILES), sid


@pytest.mark.parametrize("policy", [DEFAULT, HARDENED])
def test_by_default_iam_writes_name_only_kops_iams_own_path(policy: dict[str, Any]) -> None:
    # Given the shipped configuration (no adoption, no root-path roles)
    for sid, statement in policy.items():
        writes_iam = as_list(statement["Action"])[0].startswith("iam:")
        if statement["Effect"] == "Allow" and writes_iam and not sid.startswith("Read"):
            # Then every IAM write names only roles and profiles under /kops-iam/
            assert set(as_list(statement["Resource"])) <= set(ROLES + PROFILES), sid


@pytest.mark.parametrize("policy", [ADOPTING, ROOT_PATH_KEPT])
def test_root_path_writes_only_when_the_operator_allows_and_never_creates(
    policy: dict[str, Any],
) -> None:
    # Given adoption, or roles kept at / (kops-iam:manageRootPathRoles)
    assert set(ROOT_ROLES) <= set(as_list(policy["ManageKopsRoles"]["Resource"]))
    assert set(ROOT_PROFILES) <= set(as_list(policy["ManageKopsInstanceProfiles"]["Resource"]))
    # Then creating (and tagging on create) is still only under /kops-iam/
    for sid in ("CreateOwnedRoles", "TagRolesOnCreate"):
        assert as_list(policy[sid]["Resource"]) == ROLES, sid
    for sid in ("CreateOwnedInstanceProfiles", "TagInstanceProfilesOnCreate"):
        assert as_list(policy[sid]["Resource"]) == PROFILES, sid
    # And without adoption, writes at / still need the ownership tag
    if policy is ROOT_PATH_KEPT:
        assert policy["ManageKopsRoles"]["Condition"] == OWNED


@pytest.mark.parametrize("policy", ALL)
def test_pass_role_is_only_for_kops_roles_and_only_to_ec2(policy: dict[str, Any]) -> None:
    # AddRoleToInstanceProfile requires iam:PassRole on the role (docs/adr/0012).
    passing = [sid for sid, s in policy.items() if "iam:PassRole" in as_list(s["Action"])]
    assert passing == ["PassKopsRolesToEc2"]
    statement = policy["PassKopsRolesToEc2"]
    assert as_list(statement["Action"]) == ["iam:PassRole"]
    assert as_list(statement["Resource"]) in (ROLES, ROLES + ROOT_ROLES)
    assert statement["Condition"]["StringEquals"]["iam:PassedToService"] == [
        "ec2.amazonaws.com",
        "ec2.amazonaws.com.cn",
    ]


def test_writes_on_existing_roles_need_the_ownership_tag() -> None:
    for sid in ("ManageKopsRoles", "ManageSpecBoundaries"):
        assert DEFAULT[sid]["Condition"] == OWNED, sid
    assert DEFAULT["ManageKopsInstanceProfiles"]["Condition"] == OWNED_PROFILE
    assert (
        DEFAULT["PassKopsRolesToEc2"]["Condition"]["StringEquals"][
            f"iam:ResourceTag/{OWNERSHIP_TAG_KEY}"
        ]
        == OWNERSHIP_TAG_VALUE
    )
    assert set(as_list(DEFAULT["ManageKopsRoles"]["Action"])) == {
        "iam:DeleteRole",
        "iam:TagRole",
        "iam:UpdateAssumeRolePolicy",
        "iam:PutRolePolicy",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
    }


def test_adoption_drops_only_the_ownership_conditions() -> None:
    # Given adoption enabled
    # Then writes on existing kops roles no longer need the tag
    assert "Condition" not in ADOPTING["ManageKopsRoles"]
    assert "Condition" not in ADOPTING["ManageKopsInstanceProfiles"]
    allows = [s for s in ADOPTING.values() if s["Effect"] == "Allow"]
    assert "ResourceTag" not in json.dumps(allows)
    # But creating still requires the tags, and the tags still cannot be removed or changed
    assert ADOPTING["CreateOwnedRoles"]["Condition"] == DEFAULT["CreateOwnedRoles"]["Condition"]
    assert ADOPTING["UntagKopsRolesButNotOwnership"]["Condition"] == {
        "ForAllValues:StringNotEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY]}
    }
    for sid in ("NeverRemoveOwnershipTags", "NeverReassignToAnotherCluster"):
        assert ADOPTING[sid] == {**DEFAULT[sid], "Resource": ADOPTING[sid]["Resource"]}


@pytest.mark.parametrize(
    "sid",
    [
        "CreateOwnedRoles",
        "TagRolesOnCreate",
        "CreateOwnedInstanceProfiles",
        "TagInstanceProfilesOnCreate",
    ],
)
def test_creates_must_carry_the_ownership_tag(sid: str) -> None:
    condition = DEFAULT[sid]["Condition"]
    assert condition["StringEquals"][f"aws:RequestTag/{OWNERSHIP_TAG_KEY}"] == OWNERSHIP_TAG_VALUE
    assert condition["ForAnyValue:StringEquals"]["aws:TagKeys"] == [OWNERSHIP_TAG_KEY]
    # and the cluster the resource belongs to (docs/adr/0060)
    assert condition["Null"] == {f"aws:RequestTag/{CLUSTER_TAG_KEY}": "false"}


@pytest.mark.parametrize(
    "sid", ["UntagKopsRolesButNotOwnership", "UntagKopsInstanceProfilesButNotOwnership"]
)
def test_the_ownership_tag_can_never_be_removed(sid: str) -> None:
    owned = OWNED if "Roles" in sid else OWNED_PROFILE
    assert DEFAULT[sid]["Condition"] == {
        **owned,
        "ForAllValues:StringNotEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY]},
    }
    # and an explicit deny says the same, whatever an allow may say
    deny = DEFAULT["NeverRemoveOwnershipTags"]
    assert deny["Effect"] == "Deny"
    assert set(as_list(deny["Action"])) == {"iam:UntagRole", "iam:UntagInstanceProfile"}
    assert deny["Resource"] == DEFAULT["NeverReassignToAnotherCluster"]["Resource"]
    assert deny["Condition"] == {
        "ForAnyValue:StringEquals": {"aws:TagKeys": [OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY]}
    }


def test_a_role_can_never_be_tagged_as_another_clusters() -> None:
    statement = DEFAULT["NeverReassignToAnotherCluster"]
    assert statement["Effect"] == "Deny"
    assert set(as_list(statement["Action"])) == {"iam:TagRole", "iam:TagInstanceProfile"}
    # every role and profile, at any path: the function never does this anywhere
    assert as_list(statement["Resource"]) == [
        f"arn:aws:iam::{ACCOUNT}:role/*",
        f"arn:aws:iam::{ACCOUNT}:instance-profile/*",
    ]
    key = f"aws:ResourceTag/{CLUSTER_TAG_KEY}"  # roles document it too, profiles only it
    assert statement["Condition"] == {
        "Null": {f"aws:RequestTag/{CLUSTER_TAG_KEY}": "false", key: "false"},
        "StringNotEquals": {f"aws:RequestTag/{CLUSTER_TAG_KEY}": f"${{{key}}}"},
    }


@pytest.mark.parametrize("policy", ALL)
def test_nothing_below_a_kops_named_path_segment_can_be_touched(policy: dict[str, Any]) -> None:
    # role/nodes.* would also match role "Admin" at path /nodes.x/
    writable = {
        a
        for sid, s in policy.items()
        if s["Effect"] == "Allow" and not sid.startswith("Read")
        for a in as_list(s["Resource"])
        if ":iam::" in a and "/kops-iam/" not in a
    }
    if not writable:  # nothing written at /: nothing to deny
        assert "NeverTouchAnythingBelowAKopsNamedPath" not in policy
        return
    statement = policy["NeverTouchAnythingBelowAKopsNamedPath"]
    assert as_list(statement["Action"]) == ["iam:*"]
    assert set(as_list(statement["Resource"])) == {f"{arn}/*" for arn in writable} == set(NESTED)


def test_create_role_requires_the_operator_boundary_when_one_is_set() -> None:
    assert "iam:PermissionsBoundary" not in json.dumps(DEFAULT["CreateOwnedRoles"])
    assert (
        HARDENED["CreateOwnedRoles"]["Condition"]["StringEquals"]["iam:PermissionsBoundary"]
        == BOUNDARY
    )


def test_with_a_boundary_it_can_be_set_but_never_removed() -> None:
    # Without an operator boundary, a spec's own boundary may be put and removed
    assert set(as_list(DEFAULT["ManageSpecBoundaries"]["Action"])) == {
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteRolePermissionsBoundary",
    }
    # With one, only PutRolePermissionsBoundary, and only with that boundary
    assert "ManageSpecBoundaries" not in HARDENED
    assert "iam:DeleteRolePermissionsBoundary" not in json.dumps(HARDENED)
    statement = HARDENED["SetOperatorBoundaryOnly"]
    assert as_list(statement["Action"]) == ["iam:PutRolePermissionsBoundary"]
    assert statement["Condition"]["StringEquals"] == {
        **OWNED["StringEquals"],
        "iam:PermissionsBoundary": BOUNDARY,
    }


def test_attach_only_operator_allowed_managed_policies() -> None:
    # No allowed ARN: nothing can be attached at all
    assert "iam:AttachRolePolicy" not in json.dumps(DEFAULT)
    # Allowed ARNs: attach limited to exactly those
    statement = HARDENED["AttachAllowedManagedPoliciesOnly"]
    assert as_list(statement["Action"]) == ["iam:AttachRolePolicy"]
    assert statement["Condition"]["ArnEquals"] == {"iam:PolicyARN": [MANAGED]}
    assert [
        sid for sid, s in HARDENED.items() if "iam:AttachRolePolicy" in as_list(s["Action"])
    ] == ["AttachAllowedManagedPoliciesOnly"]


def test_reads_specs_only_under_the_spec_key_layout() -> None:
    # <cluster>/config and <cluster>/instancegroup/<name>, and never (explicit deny) a
    # state store's keys, secrets or addons, whatever they are named (docs/adr/0093)
    assert DEFAULT["ReadClusterSpecs"]["Resource"] == [
        "arn:aws:s3:::specs/*/config",
        "arn:aws:s3:::specs/*/instancegroup/*",
    ]
    reads = {"s3:GetObject", "s3:GetObjectVersion"}
    assert set(as_list(DEFAULT["ReadClusterSpecs"]["Action"])) == reads
    deny = DEFAULT["NeverReadStateStoreSecrets"]
    assert deny["Effect"] == "Deny" and set(as_list(deny["Action"])) == reads
    assert deny["Resource"] == [
        "arn:aws:s3:::specs/*/pki/*",
        "arn:aws:s3:::specs/*/secrets/*",
        "arn:aws:s3:::specs/*/addons/*",
    ]
    readers = [sid for sid, s in DEFAULT.items() if reads & set(as_list(s["Action"]))]
    assert readers == ["ReadClusterSpecs", "NeverReadStateStoreSecrets"]
    assert DEFAULT["ListClusterSpecs"] == {
        "Sid": "ListClusterSpecs",
        "Effect": "Allow",
        "Action": "s3:ListBucket",
        "Resource": "arn:aws:s3:::specs",
    }
    assert not [s for s in DEFAULT.values() if "s3:PutObject" in as_list(s["Action"])]


def test_decrypts_an_existing_bucket_only_through_s3() -> None:
    assert "DecryptClusterSpecsThroughS3" not in DEFAULT
    statement = EVERYTHING["DecryptClusterSpecsThroughS3"]
    assert statement["Resource"] == EXISTING_CONTEXT["kops-iam:existingBucketKmsKeyArn"]
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}
    }


def test_the_s3_endpoint_name_follows_the_partition() -> None:
    # China's endpoints end in amazonaws.com.cn: the stack passes Aws.URL_SUFFIX
    china = dataclasses.replace(
        TARGETS, partition="aws-cn", region="cn-north-1", url_suffix="amazonaws.com.cn"
    )
    config = StackConfig.from_context(EXISTING_CONTEXT)
    [statement] = [
        s.to_statement_json()
        for s in reconciler_statements(config, china)
        if s.sid == "DecryptClusterSpecsThroughS3"
    ]
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": "s3.cn-north-1.amazonaws.com.cn"}
    }


def test_puts_events_on_the_audit_bus_only_as_kops_iam() -> None:
    statement = DEFAULT["PublishAuditEvents"]
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == TARGETS.audit_bus_arn
    assert statement["Condition"] == {"StringEquals": {"events:source": [AUDIT_SOURCE]}}


def test_finds_hosted_zones_by_name_only() -> None:
    statement = DEFAULT["FindHostedZones"]
    assert statement["Action"] == "route53:ListHostedZonesByName"
    assert not [
        sid
        for sid, s in DEFAULT.items()
        if any(a.startswith("route53:") for a in as_list(s["Action"])) and sid != "FindHostedZones"
    ]


def test_kms_describe_key_only_on_this_accounts_keys() -> None:
    statement = DEFAULT["ResolveKmsKeyAliases"]
    assert statement["Action"] == "kms:DescribeKey"
    assert statement["Resource"] == f"arn:aws:kms:*:{ACCOUNT}:key/*"


def test_writes_only_its_own_log_group() -> None:
    assert DEFAULT["WriteOwnLogs"]["Resource"] == f"{TARGETS.log_group_arn}:*"


def test_every_wildcard_resource_has_a_documented_reason() -> None:
    reasons = TARGETS.wildcard_reasons()
    for policy in ALL:
        for sid, statement in policy.items():
            if statement["Effect"] == "Deny":  # a wider deny only takes away more
                continue
            for resource in as_list(statement["Resource"]):
                if "*" in resource:
                    assert reasons.get(resource, "").strip(), (sid, resource)


def test_the_policy_fits_iams_inline_size_limit() -> None:
    # IAM allows 10,240 characters (whitespace not counted) across a role's inline
    # policies; leave room for CDK's default policy (X-Ray, SQS) and 20 allowed ARNs.
    many = ",".join(f"arn:aws:iam::{ACCOUNT}:policy/extra-policy-{i:02}" for i in range(20))
    policy = statements(**{**EXISTING_CONTEXT, "kops-iam:allowedManagedPolicyArns": many})
    document = {"Version": "2012-10-17", "Statement": list(policy.values())}
    size = len("".join(json.dumps(document).split()))
    assert size < 9_000, size
