"""Privilege: every escalation action, and every wildcard covering one, is refused in specs
unless the operator allowed it (``Options.allowed_actions``).

The list of escalation actions is written here from the public research the facts file
cites, independently of :mod:`kops_iam.domain.guardrail`, and the two are compared: a drift in
either fails. Wildcards are derived from each action (service-wide, prefix, suffix, single
character, case variants) plus the global ones, and the ``NotAction`` complement.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import rel_oracle
import rel_strategies
import rel_support

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.guardrail import ESCALATION_ACTIONS
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec

PART = "privilege"

#: Facts file, "Privilege escalation": actions that alone let a principal escalate, and
#: iam:PassRole (which escalates with ec2:RunInstances, granted to every kops master).
FACTS_ESCALATIONS = frozenset(
    {
        "iam:CreateAccessKey",
        "iam:CreateLoginProfile",
        "iam:UpdateLoginProfile",
        "iam:AddUserToGroup",
        "iam:CreatePolicyVersion",
        "iam:SetDefaultPolicyVersion",
        "iam:AttachUserPolicy",
        "iam:AttachGroupPolicy",
        "iam:AttachRolePolicy",
        "iam:PutUserPolicy",
        "iam:PutGroupPolicy",
        "iam:PutRolePolicy",
        "iam:UpdateAssumeRolePolicy",
        "glue:UpdateDevEndpoint",
        "lambda:UpdateFunctionCode",
        "iam:PassRole",
    }
)
#: Issue 10's review: Rhino Security Labs' later methods, Bishop Fox's iam-vulnerable
#: (privesc-AssumeRole, -ssmSendCommand, -ssmStartSession, -ec2InstanceConnect,
#: -cloudFormationUpdateStack, -sageMakerCreatePresignedNotebookURL), pathfinding.cloud
#: (apprunner-002, cloudformation-002/005, codebuild-002/003, ec2-002/004, lambda-003,
#: sagemaker-004, ssm-001/002, sts-001), and what a role needs to undo its own limits
#: (boundaries, its own Deny statements), to confuse ABAC or kops-iam's ownership (tags),
#: to be trusted through an identity provider, or to grant itself access by a resource
#: policy (the specs bucket's included).
REVIEW_ESCALATIONS = frozenset(
    {
        "iam:DeleteRolePermissionsBoundary",
        "iam:PutRolePermissionsBoundary",
        "iam:DeleteUserPermissionsBoundary",
        "iam:PutUserPermissionsBoundary",
        "iam:DeleteRolePolicy",
        "iam:DetachRolePolicy",
        "iam:UpdateSAMLProvider",
        "iam:TagRole",
        "iam:UntagRole",
        "iam:TagInstanceProfile",
        "iam:UntagInstanceProfile",
        "iam:TagUser",
        "iam:UntagUser",
        "sts:TagSession",
        "sts:AssumeRole",
        "lambda:UpdateFunctionConfiguration",
        "ssm:SendCommand",
        "ssm:StartSession",
        "ssm:CreateAssociation",
        "ec2-instance-connect:SendSSHPublicKey",
        "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
        "ec2:ModifyInstanceAttribute",
        "ec2:CreateLaunchTemplateVersion",
        "ec2:ModifyLaunchTemplate",
        "codebuild:StartBuild",
        "codebuild:StartBuildBatch",
        "codebuild:UpdateProject",
        "cloudformation:UpdateStack",
        "cloudformation:CreateChangeSet",
        "cloudformation:ExecuteChangeSet",
        "sagemaker:CreatePresignedNotebookInstanceUrl",
        "sagemaker:CreatePresignedDomainUrl",
        "apprunner:UpdateService",
        "ecs:ExecuteCommand",
        "eks:CreateAccessEntry",
        "eks:UpdateAccessEntry",
        "eks:AssociateAccessPolicy",
        "s3:PutBucketPolicy",
        "kms:PutKeyPolicy",
    }
)
ALL_ESCALATIONS = FACTS_ESCALATIONS | REVIEW_ESCALATIONS


def _wildcards(action: str) -> list[str]:
    service, name = action.split(":")
    return sorted(
        {
            f"{service}:*",
            f"{service}:{name[:1]}*",
            f"{service}:{name[:4]}*",
            f"{service}:*{name[-6:]}",
            f"{service}:{name[:-1]}?",
            f"{service}:?{name[1:]}",
            f"{service}:{name[:3]}*{name[-3:]}",
            action.lower(),
            action.upper(),
            f"{service.upper()}:{name.lower()}",
        }
    )


GLOBAL_WILDCARDS = ["*", "*:*", "iam:*", "iam:Put*", "iam:*Policy", "iam:Attach*", "*Policy"]
PATTERNS = sorted(
    {(a, a) for a in ALL_ESCALATIONS}
    | {(a, w) for a in ALL_ESCALATIONS for w in _wildcards(a)}
    | {("*", w) for w in GLOBAL_WILDCARDS}
)
ROLES = ["node", "control-plane", "bastion"]
BASE = rel_strategies.SAMPLES["kops-page-example.yaml"]


def _spec(role: str, statement: dict[str, Any]) -> bytes:
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["additionalPolicies"] = {role: json.dumps([statement])}
    return json.dumps(doc).encode()


def _allow(actions: list[str], key: str = "Action") -> dict[str, Any]:
    return {"Effect": "Allow", key: actions, "Resource": "*"}


def _covered(pattern: str) -> set[str]:
    return {a for a in ALL_ESCALATIONS if rel_oracle.covers(pattern, a)}


def _verdict(data: bytes, allowed: frozenset[str]) -> tuple[bool, list[str]]:
    try:
        plan_spec(data, Options(account_id=rel_strategies.ACCOUNT, allowed_actions=allowed))
    except SpecInvalid as exc:
        return False, [str(issue) for issue in exc.errors]
    return True, []


def test_the_guardrail_list_matches_the_published_research() -> None:
    assert frozenset(ESCALATION_ACTIONS) == ALL_ESCALATIONS


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("action", "pattern"), PATTERNS)
def test_an_escalation_pattern_is_refused_unless_the_operator_allows_what_it_covers(
    role: str, action: str, pattern: str
) -> None:
    covered = _covered(pattern)
    assert covered, f"{pattern} covers no escalation action (test data)"
    data = _spec(role, _allow([pattern]))
    path = f"spec.additionalPolicies.{role}[0].Action[0]"

    # Given no approval, When validated, Then refused at the action with a reason
    accepted, errors = _verdict(data, frozenset())
    assert not accepted
    assert any(e.startswith(f"{path}: ") and "escalat" in e for e in errors), errors
    rel_support.record(PART, "guardrail.refused_without_approval")

    # Given approval of all but one covered action, Then still refused, naming that one
    if len(covered) > 1:
        missing = sorted(covered)[0]
        accepted, errors = _verdict(data, frozenset(covered - {missing}))
        assert not accepted and any(missing in e for e in errors if e.startswith(path)), errors
        rel_support.record(PART, "guardrail.refused_with_partial_approval")

    # Given approval of exactly what it covers, Then no escalation error remains
    accepted, errors = _verdict(data, frozenset(covered))
    assert not [e for e in errors if "escalat" in e], errors
    rel_support.record(PART, "guardrail.allowed_with_approval")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "not_action",
    [
        ["s3:*"],
        ["iam:Get*", "iam:List*"],
        ["iam:PassRole"],
        sorted(ALL_ESCALATIONS - {"iam:PassRole"}),
        sorted(ALL_ESCALATIONS - {"ssm:StartSession"}),
    ],
)
def test_allow_with_notaction_covering_an_escalation_is_refused(
    role: str, not_action: list[str]
) -> None:
    # Given Allow + NotAction whose complement covers an escalation action, Then refused
    accepted, errors = _verdict(_spec(role, _allow(not_action, "NotAction")), frozenset())
    assert not accepted and any("escalat" in e for e in errors), errors
    rel_support.record(PART, "guardrail.refused_without_approval")


@pytest.mark.parametrize("role", ROLES)
def test_deny_statements_and_harmless_wildcards_pass_the_guardrail(role: str) -> None:
    # Given a Deny of every escalation wildcard and an Allow of harmless wildcards
    deny = {"Effect": "Deny", "Action": ["*", "iam:*", *sorted(ALL_ESCALATIONS)], "Resource": "*"}
    allow = _allow(["s3:Get*", "ec2:Describe*", "dynamodb:*", "iam:Get*", "iam:List*"])
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["additionalPolicies"] = {role: json.dumps([deny, allow])}
    # Then accepted with no approval: the guardrail only stops grants
    accepted, errors = _verdict(json.dumps(doc).encode(), frozenset())
    assert accepted, errors
    rel_support.record(PART, "guardrail.harmless_accepted")


def test_the_spec_cannot_approve_itself() -> None:
    # Given a spec carrying an "allowedActions"-like field next to an iam:PassRole grant
    doc = json.loads(json.dumps(BASE))
    doc["spec"]["allowedActions"] = ["iam:PassRole"]
    doc["spec"]["additionalPolicies"] = {"node": json.dumps([_allow(["iam:PassRole"])])}
    # Then still refused: only Options (the operator) can approve
    accepted, errors = _verdict(json.dumps(doc).encode(), frozenset())
    assert not accepted and any("iam:PassRole" in e for e in errors), errors
    rel_support.record(PART, "guardrail.refused_without_approval")
