"""Names and wiring shared by the Lambda, the CDK stack (``infra/``) and the local emulator.

One place, so the deployed stack, the embedded demo and the tests cannot drift apart.
This module must stay import-light: the CDK app and the Lambda both import it.
"""

from __future__ import annotations

import re
from typing import Final

#: ``source`` of every audit event kops-iam puts on the bus.
AUDIT_SOURCE: Final = "kops-iam"


class DetailType:
    """``detail-type`` of each audit event (one per outcome)."""

    SPEC_APPLIED: Final = "Spec Applied"
    SPEC_UNCHANGED: Final = "Spec Unchanged"
    SPEC_PLANNED: Final = "Spec Planned"
    SPEC_REJECTED: Final = "Spec Rejected"
    CLUSTER_DELETED: Final = "Cluster Deleted"
    DRIFT_CORRECTED: Final = "Drift Corrected"
    APPLY_FAILED: Final = "Apply Failed"

    ALL: Final = (
        SPEC_APPLIED,
        SPEC_UNCHANGED,
        SPEC_PLANNED,
        SPEC_REJECTED,
        CLUSTER_DELETED,
        DRIFT_CORRECTED,
        APPLY_FAILED,
    )


#: kops state-store layout: the cluster spec lives at ``<cluster name>/config``.
SPEC_KEY_SUFFIX: Final = "/config"
SPEC_KEY_PATTERN: Final = re.compile(r"^(?P<cluster>[^/]+)/config$")

#: Tag that marks a role as created (and so owned) by kops-iam.
OWNERSHIP_TAG_KEY: Final = "kops-iam/managed-by"
OWNERSHIP_TAG_VALUE: Final = "kops-iam"

#: Role name prefixes kops uses; the function's own IAM rights are scoped to them.
ROLE_NAME_PREFIXES: Final = ("masters.", "nodes.", "bastions.")

#: S3 events (via EventBridge) that trigger a reconcile.
S3_EVENT_SOURCE: Final = "aws.s3"
S3_OBJECT_CREATED: Final = "Object Created"
S3_OBJECT_DELETED: Final = "Object Deleted"


class Env:
    """Environment variables through which the stack configures the function."""

    SPECS_BUCKET: Final = "KOPS_IAM_SPECS_BUCKET"
    AUDIT_BUS_NAME: Final = "KOPS_IAM_AUDIT_BUS_NAME"
    MODE: Final = "KOPS_IAM_MODE"  # "apply" | "plan"
    PERMISSIONS_BOUNDARY: Final = "KOPS_IAM_PERMISSIONS_BOUNDARY"  # managed policy ARN or ""
    ALLOWED_ACTIONS: Final = "KOPS_IAM_ALLOWED_ACTIONS"  # comma-separated, operator-approved
    ALLOWED_MANAGED_POLICIES: Final = "KOPS_IAM_ALLOWED_MANAGED_POLICIES"  # comma-separated ARNs
    ADOPT_EXISTING_ROLES: Final = "KOPS_IAM_ADOPT_EXISTING_ROLES"  # "true" | "false"
    RETAIN_ON_DELETE: Final = "KOPS_IAM_RETAIN_ON_DELETE"  # "true" | "false"


class Defaults:
    """Default resource names (the stack's when not overridden, and the local emulator's)."""

    SPECS_BUCKET: Final = "kops-iam-specs"
    AUDIT_BUS_NAME: Final = "kops-iam-audit"
    AUDIT_LOG_GROUP: Final = "/kops-iam/audit"
    FAILURE_QUEUE: Final = "kops-iam-failed-events"
    AUDIT_TAIL_QUEUE: Final = "kops-iam-audit-tail"  # local emulator: where the tools read audit
    FUNCTION_NAME: Final = "kops-iam-reconciler"
    POWERTOOLS_SERVICE_NAME: Final = "kops-iam"
    METRICS_NAMESPACE: Final = "KopsIam"


def cluster_from_key(key: str) -> str | None:
    """Return the cluster segment of a spec key, or ``None`` when the key is not a spec."""
    match = SPEC_KEY_PATTERN.match(key)
    return match.group("cluster") if match else None


def audit_event_pattern() -> dict[str, list[str]]:
    """EventBridge pattern matching every kops-iam audit event."""
    return {"source": [AUDIT_SOURCE]}


def s3_spec_event_pattern(bucket: str) -> dict[str, object]:
    """EventBridge pattern for S3 object created/deleted events on spec keys of ``bucket``."""
    return {
        "source": [S3_EVENT_SOURCE],
        "detail-type": [S3_OBJECT_CREATED, S3_OBJECT_DELETED],
        "detail": {"bucket": {"name": [bucket]}, "object": {"key": [{"suffix": SPEC_KEY_SUFFIX}]}},
    }
