"""``Resource`` / ``NotResource``: ``*`` or ARNs IAM accepts in the cluster's partition."""

from __future__ import annotations

from typing import Any, Final

from kops_iam.domain.additional_policies.checks import Checks
from kops_iam.domain.additional_policies.text import quote

#: Services whose resource ARNs never name a region: IAM refuses a policy whose ARN does.
GLOBAL_SERVICES: Final = frozenset({"s3", "iam"})
#: The resource types an IAM ARN may name (IAM refuses a policy naming another).
IAM_RESOURCE_TYPES: Final = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)


def check_resources(checks: Checks, value: Any, path: str) -> None:
    """Check a ``Resource`` (or ``NotResource``) value."""
    partition = checks.partition
    for item_path, resource in checks.string_list(value, path, "resources"):
        if checks.text(resource, item_path) or resource == "*":
            continue
        parts = resource.split(":", 5)
        if parts[0] != "arn" or len(parts) < 6 or not parts[1] or not parts[2]:
            checks.error(
                item_path,
                f"{quote(resource)} is not * or an ARN "
                f"(arn:{partition}:service:region:account:resource)",
            )
        elif parts[1] not in (partition, "*"):
            checks.error(
                item_path,
                f"ARN partition does not match the cluster's: expected "
                f"arn:{partition}:..., found arn:{parts[1]}:...",
            )
        elif parts[2] in GLOBAL_SERVICES and parts[3]:
            checks.error(
                item_path,
                f"{parts[2]} ARNs have no region (arn:{parts[1]}:{parts[2]}::...); IAM "
                f"refuses {quote(resource)} because it names {quote(parts[3])}",
            )
        elif parts[2] == "iam" and not (parts[5] == "*" or parts[5].startswith(IAM_RESOURCE_TYPES)):
            checks.error(
                item_path,
                f"{quote(resource)}: an IAM resource is * or starts with "
                + ", ".join(IAM_RESOURCE_TYPES)
                + " (IAM refuses anything else)",
            )
