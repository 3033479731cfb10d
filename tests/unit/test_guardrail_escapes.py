"""Issue 10's escalations through a whole spec: each is refused unless the operator allows it.

Before the review these specs were valid (and applied): with an operator permissions
boundary, a node role could still be granted the right to remove or replace its own
boundary, delete its own Deny statements, assume a more powerful role, or run code as
another principal.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from spec_builders import cluster_doc

from kops_iam.domain.catalogue import matches
from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.guardrail import ESCALATION_ACTIONS
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec

BOUNDARY = "arn:aws:iam::123456789012:policy/kops-boundary"
OPERATOR = Options(account_id="123456789012", permissions_boundary=BOUNDARY)


def _spec(statement: dict[str, Any], role: str = "node") -> bytes:
    doc = cluster_doc(additionalPolicies={role: json.dumps([statement])})
    return json.dumps(doc).encode()


def _errors(statement: dict[str, Any], options: Options = OPERATOR) -> list[str]:
    with pytest.raises(SpecInvalid) as caught:
        plan_spec(_spec(statement), options)
    return [str(issue) for issue in caught.value.errors]


ESCAPES = {
    # the boundary escape: remove or replace the operator's boundary on its own role
    "remove its boundary": "iam:DeleteRolePermissionsBoundary",
    "replace its boundary": "iam:PutRolePermissionsBoundary",
    "both boundary actions at once": "iam:*PermissionsBoundary",
    "the user forms": "iam:*UserPermissionsBoundary",
    # rewrite its own policies: drop its own Deny statements
    "delete its own inline policies": "iam:DeleteRolePolicy",
    "detach its own managed policies": "iam:DetachRolePolicy",
    # assume (or make itself trusted by) a more powerful role
    "assume another role": "sts:AssumeRole",
    "replace a SAML provider": "iam:UpdateSAMLProvider",
    # run code as another principal
    "change a Lambda function's layers": "lambda:UpdateFunctionConfiguration",
    "run commands on instances": "ssm:SendCommand",
    "open a shell on instances": "ssm:StartSession",
    "push an SSH key": "ec2-instance-connect:SendSSHPublicKey",
    "start a build": "codebuild:StartBuild",
    "update a stack with a service role": "cloudformation:UpdateStack",
    "exec into ECS tasks": "ecs:ExecuteCommand",
    # tags that ABAC and kops-iam's ownership rely on
    "tag roles": "iam:TagRole",
    "untag roles": "iam:UntagRole",
    "tag sessions": "sts:TagSession",
    # rewrite a bucket policy (the specs bucket's too)
    "rewrite a bucket policy": "s3:PutBucketPolicy",
}


@pytest.mark.parametrize("action", ESCAPES.values(), ids=ESCAPES.keys())
def test_an_escape_is_refused_even_on_a_specific_resource(action: str) -> None:
    # Given an operator boundary, and a spec granting the action (or pattern) on *
    errors = _errors({"Effect": "Allow", "Action": [action], "Resource": "*"})
    # Then the spec is invalid, at the action, saying it escalates
    assert len(errors) == 1, errors
    assert errors[0].startswith("spec.additionalPolicies.node[0].Action[0]: ")
    assert "escalate its own privileges" in errors[0]


@pytest.mark.parametrize("action", ESCAPES.values(), ids=ESCAPES.keys())
def test_the_not_action_form_of_an_escape_is_refused(action: str) -> None:
    # Given Allow + NotAction listing every escalation action but the ones ``action`` covers
    others = sorted(a for a in ESCALATION_ACTIONS if not matches(action, a))
    errors = _errors({"Effect": "Allow", "NotAction": others, "Resource": "*"})
    # Then the statement is refused for exactly what it leaves allowed
    assert len(errors) == 1 and "NotAction" in errors[0], errors
    named = (
        action
        if "*" not in action
        else sorted(a for a in ESCALATION_ACTIONS if matches(action, a))[0]
    )
    assert named in errors[0], errors


@pytest.mark.parametrize("action", ESCAPES.values(), ids=ESCAPES.keys())
def test_only_the_operator_can_allow_an_escape(action: str) -> None:
    statement = {"Effect": "Allow", "Action": [action], "Resource": "*"}
    approved = Options(
        account_id="123456789012",
        permissions_boundary=BOUNDARY,
        allowed_actions=frozenset({action}),
    )
    plan = plan_spec(_spec(statement), approved)
    assert plan.roles["node"].permissions_boundary == BOUNDARY


def test_a_deny_of_an_escape_is_always_fine() -> None:
    statement = {"Effect": "Deny", "Action": list(ESCAPES.values()), "Resource": "*"}
    plan_spec(_spec(statement), OPERATOR)
