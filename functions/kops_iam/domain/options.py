"""Operator-controlled options: what a spec may ask for is decided here, never by the spec."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

#: How an action the catalogue does not know is treated: ``warn`` accepts it with a warning
#: unless it is a near-misspelling of a known action or service; ``error`` refuses it.
UnknownActions = Literal["warn", "error"]


@dataclass(frozen=True)
class Approval:
    """How the operator who reads a refusal approves what was refused: wording only.

    The domain does not know whether its reader runs the CLI or deploys the stack, so the
    caller says what *that* reader sets (a CLI flag, a CDK context key). Templates take
    ``{action}`` and ``{arn}``.

    Parameters
    ----------
    action
        How to approve a privilege-escalation action, e.g. ``--allow-action {action}``.
    managed_policy
        How to allow a managed policy ARN in ``externalPolicies``.
    known_action
        How to declare an action newer than the catalogue known.
    refuse_unknown
        How to make unknown actions errors (the operator's strict setting).
    manage_root_path
        How to let the function keep managing roles it created at IAM path ``/``.
    """

    action: str = "the operator's allowed actions (add {action})"
    managed_policy: str = "the operator's allowed managed policies (add {arn})"
    known_action: str = "the operator's known actions (add {action})"
    refuse_unknown: str = "the operator's unknown-actions setting (error)"
    manage_root_path: str = "the operator's manage-root-path-roles setting (true)"


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
    approval
        How a refusal tells its reader to approve (the setting that reader controls).
    unknown_actions
        How an ``additionalPolicies`` action missing from the catalogue is treated:
        ``warn`` (a warning, unless it is one edit from a known action or service) or
        ``error`` (refused).
    known_actions
        Exact ``service:Action`` names the operator declares known although the catalogue
        does not list them (actions AWS added after the catalogue's date). Case-insensitive.
    """

    account_id: str | None = None
    allowed_actions: frozenset[str] = field(default_factory=frozenset)
    permissions_boundary: str | None = None
    allowed_managed_policies: frozenset[str] | None = None
    approval: Approval = field(default_factory=Approval)
    unknown_actions: UnknownActions = "warn"
    known_actions: frozenset[str] = field(default_factory=frozenset)
