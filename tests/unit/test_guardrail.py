"""The privilege-escalation guardrail: which actions, which patterns cover them, who approves."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kops_iam.application.settings import approval_for
from kops_iam.domain.catalogue import default_catalogue
from kops_iam.domain.guardrail import ESCALATION_ACTIONS, REASONS, disallowed, escalations, explain

CATALOGUE = default_catalogue()

#: The facts file's list of actions that escalate alone, plus iam:PassRole.
FACTS = {
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
#: Issue 10's review (docs/adr/0062), family by family.
BOUNDARIES = {
    "iam:DeleteRolePermissionsBoundary",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteUserPermissionsBoundary",
    "iam:PutUserPermissionsBoundary",
}
OWN_DENIES = {"iam:DeleteRolePolicy", "iam:DetachRolePolicy"}
TAGS = {
    "iam:TagRole",
    "iam:UntagRole",
    "iam:TagInstanceProfile",
    "iam:UntagInstanceProfile",
    "iam:TagUser",
    "iam:UntagUser",
    "sts:TagSession",
}
ASSUME = {"sts:AssumeRole", "iam:UpdateSAMLProvider"}
RUN_AS_ANOTHER = {
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
}
RESOURCE_POLICIES = {"s3:PutBucketPolicy", "kms:PutKeyPolicy"}
ADDED = BOUNDARIES | OWN_DENIES | TAGS | ASSUME | RUN_AS_ANOTHER | RESOURCE_POLICIES
EXPECTED = FACTS | ADDED
IAM_ONES = {action for action in EXPECTED if action.startswith("iam:")}
ESCALATIONS = sorted(EXPECTED)


def covered(*actions: str, not_action: bool = False) -> frozenset[str]:
    return escalations(actions, not_action=not_action, catalogue=CATALOGUE)


def test_the_escalation_set_is_the_documented_one() -> None:
    assert ESCALATION_ACTIONS == EXPECTED
    assert set(REASONS) == EXPECTED
    assert not FACTS & ADDED


@pytest.mark.parametrize("action", ESCALATIONS)
def test_each_escalation_action_has_a_reason(action: str) -> None:
    assert REASONS[action].startswith("it can ") and len(REASONS[action].split()) >= 8


@pytest.mark.parametrize("action", ESCALATIONS)
def test_each_escalation_action_is_a_real_iam_action(action: str) -> None:
    # The catalogue spells each one exactly so (messages use these names)
    assert CATALOGUE.canonical(action) == action


@pytest.mark.parametrize("action", ESCALATIONS)
def test_each_escalation_action_is_covered_by_its_name_in_any_case(action: str) -> None:
    # Given an Allow statement naming the action (any casing)
    for written in (action, action.lower(), action.upper()):
        # Then the guardrail reports exactly that action, unapproved by default
        assert covered(written) == {action}
        assert disallowed(covered(written), ()) == {action}


@pytest.mark.parametrize("action", ESCALATIONS)
def test_each_escalation_action_can_be_approved_by_the_operator(action: str) -> None:
    assert disallowed({action}, {action}) == frozenset()
    assert disallowed({action}, {action.swapcase()}) == frozenset()
    assert disallowed({action}, {"sts:GetCallerIdentity"}) == {action}


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("*", EXPECTED),
        ("*:*", EXPECTED),  # rejected as an action by the statement checks, but still covered
        ("iam:*", IAM_ONES),
        ("IAM:*", IAM_ONES),
        (
            "iam:Put*",
            {
                "iam:PutUserPolicy",
                "iam:PutGroupPolicy",
                "iam:PutRolePolicy",
                "iam:PutRolePermissionsBoundary",
                "iam:PutUserPermissionsBoundary",
            },
        ),
        (
            "iam:Attach*Policy",
            {"iam:AttachUserPolicy", "iam:AttachGroupPolicy", "iam:AttachRolePolicy"},
        ),
        ("iam:*LoginProfile", {"iam:CreateLoginProfile", "iam:UpdateLoginProfile"}),
        ("iam:*PermissionsBoundary", BOUNDARIES),
        ("iam:Delete*", {"iam:DeleteRolePolicy"} | {a for a in BOUNDARIES if "Delete" in a}),
        ("iam:*Tag*", {a for a in TAGS if a.startswith("iam:")}),
        ("iam:Pass????", {"iam:PassRole"}),
        (
            "lambda:Update*",
            {"lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"},
        ),
        ("glue:*", {"glue:UpdateDevEndpoint"}),
        ("sts:*", {"sts:AssumeRole", "sts:TagSession"}),
        ("sts:Assume*", {"sts:AssumeRole"}),
        ("ssm:*", {"ssm:SendCommand", "ssm:StartSession", "ssm:CreateAssociation"}),
        ("ssm:Start*", {"ssm:StartSession"}),
        ("ec2-instance-connect:*", {a for a in RUN_AS_ANOTHER if "instance-connect" in a}),
        ("codebuild:Start*", {"codebuild:StartBuild", "codebuild:StartBuildBatch"}),
        ("cloudformation:*", {a for a in RUN_AS_ANOTHER if a.startswith("cloudformation:")}),
        ("*PassRole", {"iam:PassRole"}),
        ("iam*", IAM_ONES),
        ("iam:Get*", set()),
        ("s3:Get*", set()),
        ("ssm:GetParameter*", set()),
        ("ec2:Describe*", set()),
        ("ec2:RunInstances", set()),
        ("iam:PassRoles", set()),
    ],
)
def test_wildcards_cover_the_escalation_actions_they_match(
    pattern: str, expected: set[str]
) -> None:
    assert covered(pattern) == expected


def test_a_list_covers_the_union() -> None:
    assert covered("s3:GetObject", "iam:PassRole", "lambda:*") == {
        "iam:PassRole",
        "lambda:UpdateFunctionCode",
        "lambda:UpdateFunctionConfiguration",
    }


@pytest.mark.parametrize("action", sorted(ADDED))
def test_each_addition_is_covered_by_its_wildcard_and_not_action_forms(action: str) -> None:
    service, name = action.split(":")
    # Given the service-wide and prefix wildcards, and every action at all
    for pattern in ("*", f"{service}:*", f"{service}:{name[:3]}*", f"{service}:*{name[-4:]}"):
        assert action in covered(pattern), pattern
    # And a NotAction list that does not name it (it allows everything else)
    assert action in covered("route53:*", "ec2:Describe*", not_action=True)
    # But not a NotAction list that names it (or its service)
    assert action not in covered(action, not_action=True)
    assert action not in covered(f"{service}:*", not_action=True)


@pytest.mark.parametrize(
    ("not_actions", "expected"),
    [
        ((), EXPECTED),
        (("s3:*",), EXPECTED - {"s3:PutBucketPolicy"}),
        (("iam:*",), EXPECTED - IAM_ONES),
        (
            ("iam:*", "glue:*", "lambda:*"),
            {a for a in EXPECTED if a.split(":")[0] not in ("iam", "glue", "lambda")},
        ),
        (("*",), set()),
        (("iam:PassRole",), EXPECTED - {"iam:PassRole"}),
    ],
)
def test_not_action_allows_the_complement(not_actions: tuple[str, ...], expected: set[str]) -> None:
    # Given Allow + NotAction: everything not listed is allowed
    assert covered(*not_actions, not_action=True) == expected


@pytest.mark.parametrize(
    ("allowed", "left"),
    [
        ((), IAM_ONES),
        (("iam:*",), set()),
        (
            ("IAM:PUT*",),
            {a for a in IAM_ONES if not a.startswith("iam:Put")},
        ),
        (("*",), set()),
        (
            ("iam:PassRole", "iam:Attach*"),
            IAM_ONES
            - {
                "iam:PassRole",
                "iam:AttachUserPolicy",
                "iam:AttachGroupPolicy",
                "iam:AttachRolePolicy",
            },
        ),
        (("", "  "), IAM_ONES),
        (("iam:PassRole ",), IAM_ONES - {"iam:PassRole"}),
    ],
)
def test_operator_approves_by_exact_name_or_pattern(
    allowed: tuple[str, ...], left: set[str]
) -> None:
    assert disallowed(covered("iam:*"), allowed) == left


_PATTERN_CHARS = st.sampled_from(list("iamglue:PasRoAttchy*?-"))
_PATTERN = st.text(_PATTERN_CHARS, min_size=1, max_size=14)


@settings(max_examples=150, deadline=None)
@given(st.lists(_PATTERN, max_size=4))
def test_not_action_is_the_exact_complement(patterns: list[str]) -> None:
    assert covered(*patterns, not_action=True) == EXPECTED - covered(*patterns)


@settings(max_examples=150, deadline=None)
@given(_PATTERN)
def test_coverage_agrees_with_the_catalogue_expansion(pattern: str) -> None:
    # The guardrail matches names directly; it must agree with the catalogue's expansion
    assert covered(pattern) == CATALOGUE.expand(pattern) & EXPECTED


def test_message_for_one_named_action() -> None:
    message = explain("iam:PassRole", {"iam:PassRole"}, approval_for("cli"))
    assert message.startswith("iam:PassRole lets the role escalate its own privileges (")
    assert "ec2:RunInstances" in message
    assert message.endswith("an operator can allow it with --allow-action iam:PassRole")


def test_the_message_names_what_its_reader_sets() -> None:
    # Given the same refusal read by a CLI user, a stack operator and an unknown reader
    cli = explain("iam:PassRole", {"iam:PassRole"}, approval_for("cli"))
    stack = explain("iam:PassRole", {"iam:PassRole"}, approval_for("stack"))
    neutral = explain("iam:PassRole", {"iam:PassRole"})
    # Then each names what that reader sets, and never the function's environment variable
    assert "--allow-action iam:PassRole" in cli and "kops-iam:" not in cli
    assert "-c kops-iam:allowedActions=iam:PassRole" in stack and "--allow-action" not in stack
    assert "add iam:PassRole" in neutral
    assert not any("KOPS_IAM_" in m for m in (cli, stack, neutral))


def test_message_for_a_wildcard_lists_the_first_few_and_counts_the_rest() -> None:
    message = explain("iam:*", IAM_ONES, approval_for("cli"))
    assert message.startswith(
        "iam:* covers privilege-escalation actions iam:AddUserToGroup, iam:AttachGroupPolicy, "
        f"iam:AttachRolePolicy and {len(IAM_ONES) - 3} more, which let the role escalate its "
        "own privileges"
    )
    assert "--allow-action iam:AddUserToGroup" in message


def test_message_for_a_wildcard_covering_one_action_names_it() -> None:
    message = explain("lambda:*Code", {"lambda:UpdateFunctionCode"}, approval_for("cli"))
    assert message.startswith("lambda:*Code covers lambda:UpdateFunctionCode, which lets")
    assert "--allow-action lambda:UpdateFunctionCode" in message
