"""Privilege-escalation guardrail for ``additionalPolicies``.

A spec's author must not be able to grant a cluster role the means to raise its own
privileges. The actions below (public research: Rhino Security Labs, cloudsplaining, pmapper)
do that alone, or, for ``iam:PassRole``, together with ``ec2:RunInstances``, which every
kops master role has. An ``Allow`` statement that covers one of them, by name, by wildcard
(``*``, ``iam:*``, ``iam:Put*``) or as the complement of a ``NotAction`` list, is rejected
unless the *operator* approves the action (``Options.allowed_actions``: the CLI's
``--allow-action``, the stack's ``kops-iam:allowedActions``). The spec can never approve
itself.

Matching is done against the names below directly, with IAM's wildcard rules, so the verdict
does not depend on the action catalogue being complete.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Final

from kops_iam.domain.catalogue import ActionCatalogue, matches
from kops_iam.domain.options import Approval

#: Why each action lets a role escalate its own privileges (keys: canonical action names).
REASONS: Final[dict[str, str]] = {
    "iam:AddUserToGroup": "it can add any IAM user to a more privileged group",
    "iam:AttachGroupPolicy": "it can attach any managed policy, e.g. AdministratorAccess, "
    "to a group",
    "iam:AttachRolePolicy": "it can attach any managed policy, e.g. AdministratorAccess, "
    "to a role, its own included",
    "iam:AttachUserPolicy": "it can attach any managed policy, e.g. AdministratorAccess, to a user",
    "iam:CreateAccessKey": "it can create access keys for another IAM user, e.g. an "
    "administrator, and act as that user",
    "iam:CreateLoginProfile": "it can set a console password for an IAM user that has none "
    "and sign in as that user",
    "iam:CreatePolicyVersion": "it can rewrite a managed policy, one attached to itself "
    "included, as a new default version granting anything",
    "iam:PassRole": "it can hand any role, a more powerful one included, to a resource it "
    "creates; kops masters can launch EC2 instances (ec2:RunInstances), so an instance "
    "running with that role is one call away",
    "iam:PutGroupPolicy": "it can write an inline policy granting anything into a group",
    "iam:PutRolePolicy": "it can write an inline policy granting anything into a role, "
    "its own included",
    "iam:PutUserPolicy": "it can write an inline policy granting anything into a user",
    "iam:SetDefaultPolicyVersion": "it can switch a managed policy attached to it to a "
    "more permissive version",
    "iam:UpdateAssumeRolePolicy": "it can change who may assume a role and so assume a more "
    "privileged one",
    "iam:UpdateLoginProfile": "it can change another IAM user's console password and sign in "
    "as that user",
    "glue:UpdateDevEndpoint": "it can put its own SSH key on a Glue development endpoint and "
    "run code there with the endpoint's role",
    "lambda:UpdateFunctionCode": "it can replace a Lambda function's code and run it with "
    "the function's role",
}

#: Actions that let a role escalate its own privileges (canonical names).
ESCALATION_ACTIONS: Final[frozenset[str]] = frozenset(REASONS)

#: How many covered actions a message lists before saying "and N more".
LISTED: Final = 3


def escalations(
    actions: Iterable[str], *, not_action: bool, catalogue: ActionCatalogue
) -> frozenset[str]:
    """Escalation actions covered by an Allow statement's Action list (or NotAction complement).

    Parameters
    ----------
    actions
        The statement's ``Action`` (or ``NotAction``) values: exact names or IAM wildcard
        patterns, any casing.
    not_action
        ``True`` when ``actions`` is a ``NotAction`` list: the statement then allows every
        action *not* matched, so the result is the escalation actions none of them matches.
    catalogue
        The action catalogue in use. Accepted for a uniform call shape; the escalation names
        are matched directly so that the result never depends on the catalogue's content.

    Returns
    -------
    frozenset[str]
        Canonical names from :data:`ESCALATION_ACTIONS`.
    """
    del catalogue  # see the docstring: matching needs no catalogue
    matched: set[str] = set()
    for pattern in actions:
        matched.update(_covered_by(pattern.lower()))
    return ESCALATION_ACTIONS - matched if not_action else frozenset(matched)


def disallowed(covered: Iterable[str], allowed: Iterable[str]) -> frozenset[str]:
    """Those of ``covered`` the operator did not approve.

    Parameters
    ----------
    covered
        Escalation actions a statement covers (canonical names).
    allowed
        The operator's ``allowed_actions``: exact names or IAM wildcard patterns
        (``iam:PassRole``, ``iam:Put*``), case-insensitive.

    Returns
    -------
    frozenset[str]
        The covered actions no entry of ``allowed`` matches.
    """
    approvals = tuple(entry.strip() for entry in allowed if entry.strip())
    return frozenset(
        action for action in covered if not any(matches(approval, action) for approval in approvals)
    )


def explain(written: str, blocked: Iterable[str], approval: Approval | None = None) -> str:
    """The error message for an action entry (or NotAction list) that covers ``blocked``.

    Parameters
    ----------
    written
        What the statement says, e.g. ``iam:PassRole``, ``iam:*`` or ``NotAction``.
    blocked
        The covered escalation actions the operator did not allow (non-empty).
    approval
        How the reader approves an action (the CLI flag or the stack's context key).

    Returns
    -------
    str
        Names the action(s), why they escalate and how an operator can allow them.
    """
    approval = approval or Approval()
    names = sorted(blocked)
    how = approval.action.format(action=names[0])
    if len(names) == 1 and written.lower() == names[0].lower():
        action = names[0]
        return (
            f"{action} lets the role escalate its own privileges ({REASONS[action]}); "
            f"an operator can allow it with {how}"
        )
    listed = ", ".join(names[:LISTED])
    if len(names) > LISTED:
        listed += f" and {len(names) - LISTED} more"
    if len(names) == 1:
        return (
            f"{written} covers {names[0]}, which lets the role escalate its own privileges "
            f"({REASONS[names[0]]}); an operator can allow it with {how}"
        )
    return (
        f"{written} covers privilege-escalation actions {listed}, which let the role escalate "
        f"its own privileges ({names[0]}: {REASONS[names[0]]}); an operator can allow each, "
        f"e.g. with {how} (patterns such as iam:* work too)"
    )


@functools.lru_cache(maxsize=4096)
def _covered_by(pattern: str) -> frozenset[str]:
    return frozenset(action for action in ESCALATION_ACTIONS if matches(pattern, action))
