"""The test-support policy evaluator behaves as AWS documents (so its verdicts mean something)."""

from __future__ import annotations

import pytest
from rel_policy_eval import Request, UnsupportedPolicy, condition_holds, evaluate

BUCKET = "arn:aws:s3:::specs"


def _allow(**fields: object) -> dict[str, object]:
    return {"Effect": "Allow", **fields}


def test_allow_matches_actions_case_insensitively_and_resources_case_sensitively() -> None:
    policy = [_allow(Action="s3:Get*", Resource=f"{BUCKET}/*/config")]
    assert evaluate(policy, Request("S3:GETOBJECT", f"{BUCKET}/c1/config")).allowed
    assert not evaluate(policy, Request("s3:GetObject", f"{BUCKET}/c1/CONFIG")).allowed
    assert not evaluate(policy, Request("s3:PutObject", f"{BUCKET}/c1/config")).allowed
    # "*" in a resource spans "/" (a deeper key still matches /*/config)
    assert evaluate(policy, Request("s3:GetObject", f"{BUCKET}/a/b/config")).allowed


def test_an_explicit_deny_wins_and_nothing_matching_is_an_implicit_deny() -> None:
    policy = [
        _allow(Action="iam:*", Resource="*"),
        {"Effect": "Deny", "Action": "iam:PassRole", "Resource": "*"},
    ]
    assert evaluate(policy, Request("iam:PassRole", "r")).decision == "ExplicitDeny"
    assert evaluate(policy, Request("iam:GetRole", "r")).decision == "Allow"
    assert evaluate([], Request("iam:GetRole", "r")).decision == "ImplicitDeny"


def test_notaction_and_notresource_are_complements() -> None:
    policy = [_allow(NotAction=["iam:*"], NotResource=f"{BUCKET}/secret")]
    assert evaluate(policy, Request("s3:GetObject", f"{BUCKET}/x")).allowed
    assert not evaluate(policy, Request("iam:GetRole", f"{BUCKET}/x")).allowed
    assert not evaluate(policy, Request("s3:GetObject", f"{BUCKET}/secret")).allowed


@pytest.mark.parametrize(
    ("condition", "context", "holds"),
    [
        ({"StringEquals": {"aws:RequestTag/o": "k"}}, {"aws:RequestTag/o": "k"}, True),
        ({"StringEquals": {"aws:RequestTag/o": "k"}}, {"aws:requesttag/o": "k"}, True),  # key case
        (
            {"StringEquals": {"aws:RequestTag/o": "k"}},
            {"aws:RequestTag/o": "K"},
            False,
        ),  # value case
        ({"StringEquals": {"aws:RequestTag/o": "k"}}, {}, False),  # missing key: positive false
        ({"StringNotEquals": {"aws:RequestTag/o": "k"}}, {}, True),  # missing key: negated true
        ({"StringEqualsIfExists": {"aws:RequestTag/o": "k"}}, {}, True),
        ({"StringEquals": {"a:b": ["x", "y"]}}, {"a:b": "y"}, True),  # values OR
        ({"StringNotEquals": {"a:b": ["x", "y"]}}, {"a:b": "y"}, False),  # negated: none match
        ({"StringLike": {"a:b": "ec2.*"}}, {"a:b": "ec2.amazonaws.com"}, True),
        (
            {"ArnLike": {"iam:PolicyARN": "arn:aws:iam::*:policy/x*"}},
            {"iam:PolicyARN": "arn:aws:iam::1:policy/xy"},
            True,
        ),
        (
            {"ArnEquals": {"iam:PolicyARN": "arn:aws:iam::aws:policy/A"}},
            {"iam:PolicyARN": "arn:aws:iam::aws:policy/B"},
            False,
        ),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["o"]}}, {"aws:TagKeys": ["a", "o"]}, True),
        ({"ForAnyValue:StringEquals": {"aws:TagKeys": ["o"]}}, {}, False),
        (
            {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["o"]}},
            {"aws:TagKeys": ["a", "b"]},
            True,
        ),
        (
            {"ForAllValues:StringNotEquals": {"aws:TagKeys": ["o"]}},
            {"aws:TagKeys": ["a", "o"]},
            False,
        ),
        ({"ForAllValues:StringNotEquals": {"aws:TagKeys": ["o"]}}, {}, True),  # vacuous
        ({"Null": {"aws:RequestTag/o": "true"}}, {}, True),
        ({"Null": {"aws:RequestTag/o": "false"}}, {}, False),
        ({"Null": {"aws:RequestTag/o": "false"}}, {"aws:RequestTag/o": "k"}, True),
        (  # operators AND keys AND
            {"StringEquals": {"a:b": "x", "c:d": "y"}, "Null": {"e:f": "true"}},
            {"a:b": "x", "c:d": "y"},
            True,
        ),
        ({"StringEquals": {"a:b": "x", "c:d": "y"}}, {"a:b": "x"}, False),
    ],
)
def test_condition_operators_follow_the_documented_semantics(
    condition: dict[str, dict[str, object]], context: dict[str, object], holds: bool
) -> None:
    assert condition_holds(condition, context) is holds  # type: ignore[arg-type]


def test_what_it_does_not_model_is_refused_not_guessed() -> None:
    with pytest.raises(UnsupportedPolicy):
        condition_holds({"NumericLessThan": {"a:b": "1"}}, {"a:b": "0"})
    with pytest.raises(UnsupportedPolicy):  # a multivalued key needs a set operator
        condition_holds({"StringEquals": {"aws:TagKeys": "o"}}, {"aws:TagKeys": ["o", "p"]})
    with pytest.raises(UnsupportedPolicy):
        evaluate(
            [{"Effect": "Allow", "Action": "*", "Resource": "*", "Principal": "*"}],
            Request("a:b", "r"),
        )


@pytest.mark.parametrize(
    ("context", "holds"),
    [
        ({"aws:RequestTag/c": "a", "aws:ResourceTag/c": "a"}, False),  # equal: not "not equal"
        ({"aws:RequestTag/c": "b", "aws:ResourceTag/c": "a"}, True),
        ({"aws:RequestTag/c": "b"}, True),  # the variable has no value: nothing equals it
        ({"aws:ResourceTag/c": "a"}, True),  # the key is missing: a negated operator holds
    ],
)
def test_a_policy_variable_stands_for_the_requests_value_of_its_key(
    context: dict[str, str], holds: bool
) -> None:
    condition = {"StringNotEquals": {"aws:RequestTag/c": "${aws:ResourceTag/c}"}}
    assert condition_holds(condition, context) is holds
    positive = {"StringEquals": {"aws:RequestTag/c": "${aws:ResourceTag/c}"}}
    equal = context.get("aws:ResourceTag/c", object()) == context.get("aws:RequestTag/c")
    assert condition_holds(positive, context) is equal


def test_a_policy_variable_with_a_default_is_refused() -> None:
    with pytest.raises(UnsupportedPolicy):
        condition_holds({"StringEquals": {"a:b": "${a:c, 'x'}"}}, {"a:b": "x"})
