"""Privilege-escalation guardrail for ``additionalPolicies``.

A spec's author must not be able to grant a cluster role the means to raise its own
privileges. The actions below do that alone, or together with what every kops role
already has (``iam:PassRole`` with ``ec2:RunInstances``, which every kops master has).
An ``Allow`` statement that covers one of them, by name, by wildcard (``*``, ``iam:*``,
``iam:Put*``, ``ssm:*``...) or as the complement of a ``NotAction`` list, is rejected
unless the *operator* approves the action (``Options.allowed_actions``: the CLI's
``--allow-action``, the stack's ``kops-iam:allowedActions``). The spec can never approve
itself.

The list (docs/adr/0062) covers Rhino Security Labs' methods, Bishop Fox's iam-vulnerable
paths, the pathfinding.cloud catalogue and cloudsplaining's list, in these families:

* rewriting IAM policies, its own included, and removing what limits it (inline and
  managed policies, policy versions, permissions boundaries, its own Deny statements);
* changing who may assume a role, or assuming or passing a more powerful one;
* credentials for, or group membership of, another principal;
* running code or commands as another principal (a function, an instance, a build, a
  stack, a notebook, a container);
* tags that attribute-based access control, or kops-iam's own ownership, relies on;
* resource policies that would let it grant itself access (the specs bucket included).

Combinations that need ``iam:PassRole`` as well (``lambda:CreateFunction``,
``glue:CreateJob``...) are covered by refusing ``iam:PassRole``.

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
    # -- IAM: policies, boundaries, trust, credentials (Rhino Security Labs 1-14) --------
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
    # -- IAM: what limits a role (boundaries, its own Deny statements) -------------------
    "iam:DeleteRolePermissionsBoundary": "it can remove a role's permissions boundary, its "
    "own included, and with it the limit the operator set on every kops role",
    "iam:PutRolePermissionsBoundary": "it can replace a role's permissions boundary, its own "
    "included, with a more permissive policy",
    "iam:DeleteUserPermissionsBoundary": "it can remove an IAM user's permissions boundary",
    "iam:PutUserPermissionsBoundary": "it can replace an IAM user's permissions boundary "
    "with a more permissive policy",
    "iam:DeleteRolePolicy": "it can delete a role's inline policies, its own included, and "
    "with them the Deny statements that limit it",
    "iam:DetachRolePolicy": "it can detach managed policies from a role, its own included, "
    "and with them the Deny statements that limit it",
    # -- IAM: identity providers trusted by roles -----------------------------------------
    "iam:UpdateSAMLProvider": "it can replace a SAML provider's metadata with its own "
    "identity provider and sign in to every role that trusts that provider",
    # -- tags that access control relies on ------------------------------------------------
    "iam:TagRole": "it can tag roles, its own included: tags decide access where policies "
    "test aws:PrincipalTag or aws:ResourceTag (ABAC), and kops-iam's ownership tags decide "
    "which roles kops-iam manages",
    "iam:UntagRole": "it can remove tags from roles, its own included, so that Deny "
    "statements conditioned on them stop applying (ABAC) or kops-iam's ownership changes",
    "iam:TagInstanceProfile": "it can tag instance profiles, and kops-iam's ownership tags "
    "decide which instance profiles kops-iam manages",
    "iam:UntagInstanceProfile": "it can remove kops-iam's ownership tags from instance profiles",
    "iam:TagUser": "it can tag IAM users, and tags decide access where policies test "
    "aws:PrincipalTag (ABAC)",
    "iam:UntagUser": "it can remove tags from IAM users, so that Deny statements "
    "conditioned on them stop applying (ABAC)",
    "sts:TagSession": "it can put session tags on the roles it assumes, and tags decide "
    "access where policies test aws:PrincipalTag (ABAC)",
    # -- assuming another role --------------------------------------------------------------
    "sts:AssumeRole": "it can assume any role whose trust policy trusts this account or "
    "this role, a more powerful one included",
    # -- code or commands as another principal (Rhino, iam-vulnerable, pathfinding.cloud) --
    "glue:UpdateDevEndpoint": "it can put its own SSH key on a Glue development endpoint and "
    "run code there with the endpoint's role",
    "lambda:UpdateFunctionCode": "it can replace a Lambda function's code and run it with "
    "the function's role",
    "lambda:UpdateFunctionConfiguration": "it can add its own layer to a Lambda function (or "
    "change its handler or environment) and run code with the function's role",
    "ssm:SendCommand": "it can run shell commands on any managed instance, with the "
    "instance's role",
    "ssm:StartSession": "it can open a shell on any managed instance and act with the "
    "instance's role",
    "ssm:CreateAssociation": "it can have State Manager run any command document on managed "
    "instances, with the instances' roles",
    "ec2-instance-connect:SendSSHPublicKey": "it can push its own SSH key to an instance, "
    "log in and act with the instance's role",
    "ec2-instance-connect:SendSerialConsoleSSHPublicKey": "it can push its own SSH key to an "
    "instance's serial console, log in and act with the instance's role",
    "ec2:ModifyInstanceAttribute": "it can replace an instance's user data, which runs at its "
    "next start with the instance's role (kops masters already hold ec2:* from kops' own "
    "policy)",
    "ec2:CreateLaunchTemplateVersion": "it can give a launch template new user data, which "
    "runs on the next instances with their instance profile's role",
    "ec2:ModifyLaunchTemplate": "it can make a launch template version with its own user data "
    "the default, which runs on the next instances with their instance profile's role",
    "codebuild:StartBuild": "it can start a CodeBuild project with its own buildspec "
    "and run code with the project's service role",
    "codebuild:StartBuildBatch": "it can start a CodeBuild batch with its own buildspec "
    "and run code with the project's service role",
    "codebuild:UpdateProject": "it can change a CodeBuild project's buildspec, which runs "
    "with the project's service role on its next build",
    "cloudformation:UpdateStack": "it can update a stack that has a service role, and "
    "CloudFormation then creates whatever the template says with that role",
    "cloudformation:CreateChangeSet": "it can prepare a change set for a stack that has a "
    "service role; once executed, CloudFormation creates anything with that role",
    "cloudformation:ExecuteChangeSet": "it can execute a change set on a stack that has a "
    "service role, and CloudFormation then creates anything with that role",
    "sagemaker:CreatePresignedNotebookInstanceUrl": "it can open any SageMaker notebook "
    "instance and run code with the notebook's role",
    "sagemaker:CreatePresignedDomainUrl": "it can open SageMaker Studio as any user profile "
    "and run code with the profile's execution role",
    "apprunner:UpdateService": "it can change an App Runner service's image or start "
    "command and run code with the service's instance role",
    "ecs:ExecuteCommand": "it can open a shell in running ECS tasks and act with their task roles",
    "eks:CreateAccessEntry": "it can give itself access to an EKS cluster and, with an "
    "access policy, run pods with any service account's IAM role",
    "eks:UpdateAccessEntry": "it can put itself in Kubernetes groups such as system:masters "
    "on an EKS cluster and run pods with any service account's IAM role",
    "eks:AssociateAccessPolicy": "it can make itself administrator of an EKS cluster and "
    "run pods with any service account's IAM role",
    # -- resource policies that would let it grant itself access ---------------------------
    "s3:PutBucketPolicy": "it can rewrite a bucket's policy, the specs bucket's included, "
    "and give itself the right to upload any cluster's spec, which kops-iam then applies",
    "kms:PutKeyPolicy": "it can rewrite a KMS key's policy and give itself every use of the key",
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
