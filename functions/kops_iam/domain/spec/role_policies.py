"""What a spec adds to each role: ``additionalPolicies``, ``externalPolicies`` and the
permissions boundary (which roles exist: :mod:`.roles`)."""

from __future__ import annotations

import re
from typing import Any, Final

from kops_iam.domain.errors import join_path
from kops_iam.domain.model import JSONDict, RoleKind
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.shapes import IAMSpec

MAX_MANAGED_POLICIES_PER_ROLE: Final = 10

#: additionalPolicies / externalPolicies keys and the role each names.
ROLE_KEYS: Final[dict[str, RoleKind]] = {
    "master": "master",
    "control-plane": "master",
    "node": "node",
    "bastion": "bastion",
}

_MANAGED_POLICY_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}|aws):policy/"
    r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$",
    re.ASCII,
)


def role_keyed(checks: SpecChecks, field_name: str) -> dict[RoleKind, tuple[str, Any]]:
    """Map ``master``/``control-plane``/``node``/``bastion`` keys to roles."""
    result: dict[RoleKind, tuple[str, Any]] = {}
    for key, value in (checks.fields.get(field_name) or {}).items():
        path = join_path("spec", field_name, key)
        role = ROLE_KEYS.get(key)
        if role is None:
            checks.error(path, f"unknown role {key!r}; expected one of " + ", ".join(ROLE_KEYS))
            continue
        if role in result:
            checks.error(path, "master and control-plane name the same role; give only one")
            continue
        result[role] = (path, value)
    return result


def additional_policies(
    checks: SpecChecks, partition: str
) -> dict[RoleKind, tuple[str, tuple[JSONDict, ...]]]:
    """Each role's ``additionalPolicies`` statements, checked statement by statement."""
    checker = checks.check_statements
    if checker is None:
        from kops_iam.domain.additional_policies import check_additional_policy

        checker = check_additional_policy
    result: dict[RoleKind, tuple[str, tuple[JSONDict, ...]]] = {}
    for role, (path, raw) in role_keyed(checks, "additionalPolicies").items():
        statements, issues = checker(
            raw, path, partition=partition, options=checks.options, warnings=checks.warnings
        )
        checks.errors.extend(issues)
        if not issues and statements:
            result[role] = (path, tuple(statements))
    return result


def external_policies(checks: SpecChecks, partition: str) -> dict[RoleKind, tuple[str, ...]]:
    """Each role's ``externalPolicies``: unique, operator-allowed ARNs within IAM's count."""
    allowed = checks.options.allowed_managed_policies
    result: dict[RoleKind, tuple[str, ...]] = {}
    for role, (path, arns) in role_keyed(checks, "externalPolicies").items():
        if len(arns) > MAX_MANAGED_POLICIES_PER_ROLE:
            checks.error(
                path,
                f"{len(arns)} managed policies; IAM attaches at most "
                f"{MAX_MANAGED_POLICIES_PER_ROLE} to a role",
            )
        kept: list[str] = []
        for index, arn in enumerate(arns):
            item = join_path(path, index)
            if managed_policy_arn(checks, item, arn, partition) is None:
                continue
            if allowed is not None and arn not in allowed:
                checks.error(
                    item,
                    f"{arn} is not among the managed policies the operator allows; "
                    "an operator can allow it with "
                    + checks.options.approval.managed_policy.format(arn=arn),
                )
                continue
            if arn in kept:
                checks.error(item, f"{arn} is listed twice")
                continue
            kept.append(arn)
        if kept:
            result[role] = tuple(kept)
    return result


def managed_policy_arn(checks: SpecChecks, path: str, arn: str, partition: str) -> str | None:
    """``arn`` when it is a managed policy ARN in the cluster's partition, else ``None``."""
    match = _MANAGED_POLICY_ARN.match(arn)
    if not match:
        checks.error(
            path,
            f"{arn!r} is not a managed policy ARN (arn:<partition>:iam::<account>:policy/NAME)",
        )
        return None
    if match.group("partition") != partition:
        checks.error(
            path,
            f"ARN partition {match.group('partition')!r} does not match the "
            f"cluster's {partition!r}",
        )
        return None
    return arn


def boundary(checks: SpecChecks, partition: str) -> str | None:
    """The permissions boundary every role gets: the operator's, which a spec may only repeat."""
    iam = checks.fields.get("iam")
    spec_boundary = iam.permissionsBoundary if isinstance(iam, IAMSpec) else None
    path = "spec.iam.permissionsBoundary"
    if spec_boundary is not None:
        managed_policy_arn(checks, path, spec_boundary, partition)
    required = checks.options.permissions_boundary
    if required is not None:
        if spec_boundary is not None and spec_boundary != required:
            checks.error(
                path,
                f"{spec_boundary} differs from the permissions boundary the "
                f"operator requires on every role ({required})",
            )
        return required
    return spec_boundary
