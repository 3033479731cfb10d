"""Operator-controlled options: what a spec may ask for is decided here, never by the spec."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Options:
    """Decisions the operator makes (CLI flags or deployment settings).

    Parameters
    ----------
    account_id
        AWS account the roles live in; needed to turn a bare KMS key id into an ARN.
    allowed_actions
        Privilege-escalation actions (or patterns such as ``iam:PassRole``) the operator
        approves in ``additionalPolicies``. Case-insensitive. The spec can never approve itself.
    permissions_boundary
        Managed policy ARN the operator requires as every role's boundary. When set, a spec
        naming a different ``iam.permissionsBoundary`` is rejected.
    allowed_managed_policies
        Managed policy ARNs ``externalPolicies`` may attach; ``None`` means any (offline CLI).
    """

    account_id: str | None = None
    allowed_actions: frozenset[str] = field(default_factory=frozenset)
    permissions_boundary: str | None = None
    allowed_managed_policies: frozenset[str] | None = None
