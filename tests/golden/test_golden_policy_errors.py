"""Golden file of the additionalPolicies checks: what kops-iam says about each statement.

``tests/golden/policy-errors/cases.txt`` holds, for each value below (one
``spec.additionalPolicies.node`` value), the errors and warnings
:func:`~kops_iam.domain.additional_policies.check_additional_policy` reports, word for word
and with their codes: misspelled and look-alike actions, suggestions, wildcard resource
types, values echoed shortened. ``make golden`` rewrites it.
"""

from __future__ import annotations

import json
from typing import Any

from support.golden import GOLDEN, check

from kops_iam.domain.additional_policies import check_additional_policy
from kops_iam.domain.catalogue import ActionCatalogue
from kops_iam.domain.errors import Issue
from kops_iam.domain.options import Options

OUT = GOLDEN / "policy-errors" / "cases.txt"
PATH = "spec.additionalPolicies.node"
#: A catalogue where one misspelling is one edit from four actions.
DEMO = ActionCatalogue({"demo": ["GetAa", "GetAb", "GetAc", "GetAd", "Put"]})


def _allow(action: Any = "s3:GetObject", resource: Any = "*", **extra: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **extra}


def _condition(operator: str) -> dict[str, Any]:
    return _allow(Condition={operator: {"aws:SourceIp": "10.0.0.0/8"}})


#: name -> (statements, or the raw value when a string; the catalogue when not the shipped one)
CASES: dict[str, tuple[Any, ActionCatalogue | None]] = {
    "a look-alike letter in an action": ([_allow("s3:G\u0435tObject")], None),
    "two look-alike letters": ([_allow("s3:G\u0435tObj\u0435ct")], None),
    "four different non-ASCII characters": ([_allow("s3:G\u0435t\u041ebj\u0441\u0442")], None),
    "a non-ASCII character without a name": ([_allow("s3:GetObject\u0378")], None),
    "non-ASCII that reads as no action": ([_allow("s3:\u0435\u0435\u0435")], None),
    "a full-width star": ([_allow("\uff0a")], None),
    "a look-alike in a wildcard": ([_allow("s3:G\u0435t*")], None),
    "a look-alike in lower case": ([_allow("s3:g\u0435tobject")], None),
    "one edit from one action": ([_allow("s3:GetObjcet")], None),
    "one edit from two actions": ([_allow("a4b:ntagResource")], None),
    "one edit from three actions": ([_allow("datasync:CreateLocationdfs")], None),
    "one edit from four actions": ([_allow("demo:GetAx")], DEMO),
    "an operator close enough to suggest": ([_condition("StrEquals")], None),
    "an operator too far to suggest (ratio 0.71)": ([_condition("ArnEq")], None),
    "an operator too far to suggest (ratio 0.64)": ([_condition("NumLess")], None),
    "an operator too far to suggest (ratio 0.73)": ([_condition("Boolean")], None),
    "a wildcard IAM resource type": (
        [
            _allow(
                "iam:GetRole",
                [
                    "arn:aws:iam::123456789012:rol*/x",
                    "arn:aws:iam::123456789012:ro?e/x",
                    "arn:aws:iam::123456789012:*ole/x",
                    "arn:aws:iam::123456789012:roo*",
                    "arn:aws:iam::123456789012:x*/y",
                    "arn:aws:iam::123456789012:ro*X/y",
                    "arn:aws:iam::123456789012:/role/x",
                ],
            )
        ],
        None,
    ),
    "a wildcard S3 resource type with a region": (
        [
            _allow(
                "s3:GetObject",
                [
                    "arn:aws:s3:eu-west-1:123456789012:accesspoint*/x",
                    "arn:aws:s3:eu-west-1:123456789012:bucket*/x",
                ],
            )
        ],
        None,
    ),
    "an action of 80 characters": ([_allow("s3:" + "A" * 77)], None),
    "an action of 81 characters": ([_allow("s3:" + "A" * 78)], None),
    "actions of odd types": ([_allow([5, 2.5, None, True, {"a": 1}])], None),
    "a statement of an odd type": ([3.5], None),
    "a value that is a number": (7, None),
}


def _show(issue: Issue, mark: str) -> str:
    return f"  {mark} {issue} [{issue.code}]"


def render() -> str:
    out = []
    for name, (value, catalogue) in CASES.items():
        raw = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        warnings: list[Issue] = []
        _, errors = check_additional_policy(
            raw, PATH, partition="aws", options=Options(), catalogue=catalogue, warnings=warnings
        )
        out.append(f"## {name}\n{raw}")
        out += [_show(issue, "!") for issue in errors]
        out += [_show(issue, "~") for issue in warnings]
        if not errors and not warnings:
            out.append("  = accepted")
        out.append("")
    return "\n".join(out)


def test_each_value_is_refused_or_warned_about_as_its_golden_file_says() -> None:
    check(OUT, render())
