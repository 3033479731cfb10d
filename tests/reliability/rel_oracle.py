"""The judge of one hostile input: accepted and sound, or rejected with field paths.

Independent of the code under test where it matters: the character set, the size
measure, the name rules and the escalation matcher are re-implemented here from AWS's
published rules (facts file), and IAM's grammar is checked by moto's ``put_role_policy``.
Any exception other than :class:`SpecInvalid` escapes and fails the property (a crash).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.guardrail import ESCALATION_ACTIONS
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import parse_document
from kops_iam.domain.pipeline import plan_spec

_ALLOWED_POLICY_CHARS = re.compile(r"[\t\n\r\x20-\xff]*")
_IAM_NAME = re.compile(r"[\w+=,.@-]+", re.ASCII)
_TOP_LEVEL = ("apiVersion", "kind", "metadata", "spec")
MAX_INLINE_TOTAL = 10_240
MAX_ROLE_NAME = 64
MAX_POLICY_NAME = 128
MAX_TAGS = 50


@functools.lru_cache(maxsize=8192)
def iam_wildcard(pattern: str) -> re.Pattern[str]:
    """IAM's action wildcard (``*`` any run, ``?`` one character), case-insensitive."""
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern.lower())
    return re.compile(body, re.DOTALL)


def covers(pattern: str, action: str) -> bool:
    return iam_wildcard(pattern).fullmatch(action.lower()) is not None


def escalations_allowed(statement: Mapping[str, Any]) -> set[str]:
    """Escalation actions an Allow statement grants (by Action, or by NotAction's complement)."""
    if statement.get("Effect") != "Allow":
        return set()
    if "NotAction" in statement:
        excluded = _as_list(statement["NotAction"])
        return {a for a in ESCALATION_ACTIONS if not any(covers(p, a) for p in excluded)}
    granted = _as_list(statement.get("Action", []))
    return {a for a in ESCALATION_ACTIONS if any(covers(p, a) for p in granted)}


def _as_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


def iam_policy_size(document: Any) -> int:
    """IAM's measure: characters of the JSON text, whitespace outside strings not counted."""
    return len(json.dumps(document, separators=(",", ":"), ensure_ascii=False))


_POLICY_ARN = re.compile(r"arn:aws(-cn|-us-gov)?:iam::(\d{12}|aws):policy/[\w+=,.@/-]+", re.ASCII)
BOUNDARY_PLACEHOLDER = "arn:aws:iam::aws:policy/none"


class KnownFinding(AssertionError):
    """The case hits a bug already reported and kept as a strict xfail in the named tests
    (``test_named_hostile_inputs.py``). The fuzz tests count these, as the figure
    ``known_finding.<name>``, instead of stopping at the first one, so a long run still
    tries all its cases. Only the exact signature of a reported bug is one; remove it
    when the bug is fixed (its strict xfail says so).
    """

    def __init__(self, name: str, detail: str) -> None:
        self.name = name
        super().__init__(f"known finding {name}: {detail!r}")


@dataclass
class Verdict:
    accepted: bool
    plan: ClusterPlan | None = None
    errors: tuple[Issue, ...] = ()


def resolve_alias(alias: str, region: str) -> str:
    """Stand-in for KMS DescribeKey in ``region``: aliases naming "missing" do not exist."""
    if "missing" in alias:
        raise LookupError("alias not found")
    return f"arn:aws:kms:{region}:123456789012:key/00000000-0000-0000-0000-000000000000"


def judge(data: bytes, options: Options, iam: Any | None) -> Verdict:
    """Run the core pipeline on ``data`` and check whichever outcome it has.

    Raises
    ------
    AssertionError
        The outcome breaks a property (crash, pathless error, unsound plan, escalation).
    """
    try:
        plan = plan_spec(data, options, resolve_alias=resolve_alias)
    except SpecInvalid as exc:
        check_rejection(data, exc)
        return Verdict(accepted=False, errors=exc.errors)
    check_plan(plan, options, iam)
    return Verdict(accepted=True, plan=plan)


def check_rejection(data: bytes, exc: SpecInvalid) -> None:
    """Every error is an Issue with a message; once the document parses, each has a path."""
    assert exc.errors, "SpecInvalid without errors"
    for issue in (*exc.errors, *exc.warnings):
        assert isinstance(issue, Issue), issue
        assert isinstance(issue.path, str) and isinstance(issue.message, str), issue
        assert issue.message.strip(), f"empty message at {issue.path!r}"
    try:
        document = parse_document(data)
    except SpecInvalid:
        return  # unreadable as a document: errors about the whole file (empty path) are right
    for issue in exc.errors:
        assert issue.path, f"error without a field path on a parsed document: {issue}"
        root = re.split(r"[.\[]", issue.path, maxsplit=1)[0]
        assert root in _TOP_LEVEL or root in document, f"path {issue.path!r} names no field"


#: What kops' own main policy of each role grants by design, not the spec's doing (the
#: spec cannot add an action to it): the master's ec2:* covers EC2 escalation actions (user
#: data, launch templates; docs/adr/0062), capped only by the operator's permissions
#: boundary (docs/security.md); s3:* on the state-store paths covers s3:PutBucketPolicy,
#: which does not apply there (those are object ARNs; a bucket policy is set on the bucket).
KOPS_OWN = {
    "master": frozenset(
        {
            "ec2:ModifyInstanceAttribute",
            "ec2:CreateLaunchTemplateVersion",
            "ec2:ModifyLaunchTemplate",
            "s3:PutBucketPolicy",
        }
    ),
    "node": frozenset({"s3:PutBucketPolicy"}),
}


def _kops_own(kind: str, policy_name: str, role: Any) -> frozenset[str]:
    """Escalations kops' own main policy of the role grants by design (not the spec's)."""
    if policy_name == role.role_name:
        return KOPS_OWN.get(kind, frozenset())
    return frozenset()


def check_plan(plan: ClusterPlan, options: Options, iam: Any | None) -> None:
    """An accepted spec renders to IAM-sound roles and grants no unapproved escalation."""
    json.dumps(plan.to_dict())  # the render contract serializes
    assert {"master", "node"} <= set(plan.roles), plan.roles.keys()
    for kind, role in plan.roles.items():
        assert role.kind == kind
        for name, limit in ((role.role_name, MAX_ROLE_NAME), (role.instance_profile_name, 128)):
            assert len(name) <= limit and _IAM_NAME.fullmatch(name), f"bad IAM name {name!r}"
        total = 0
        for policy_name, document in role.inline_policies.items():
            assert len(policy_name) <= MAX_POLICY_NAME and _IAM_NAME.fullmatch(policy_name), (
                policy_name
            )
            text = json.dumps(document, ensure_ascii=False)
            assert _ALLOWED_POLICY_CHARS.fullmatch(text), f"forbidden character in {policy_name}"
            assert document["Statement"], f"empty policy {policy_name}"
            total += iam_policy_size(document)
            for statement in document["Statement"]:
                granted = escalations_allowed(statement) - _kops_own(kind, policy_name, role)
                unapproved = {
                    a for a in granted if not any(covers(p, a) for p in options.allowed_actions)
                }
                assert not unapproved, f"{policy_name} grants {sorted(unapproved)}: {statement}"
        assert total <= MAX_INLINE_TOTAL, f"{role.role_name}: {total} > {MAX_INLINE_TOTAL}"
        assert len(role.tags) <= MAX_TAGS
        for key, value in role.tags.items():
            assert 1 <= len(key) <= 128 and len(value) <= 256, (key, value)
        assert len(role.managed_policy_arns) <= 10
        for arn in (*role.managed_policy_arns, role.permissions_boundary or BOUNDARY_PLACEHOLDER):
            assert _POLICY_ARN.fullmatch(arn), f"not a managed policy ARN IAM accepts: {arn!r}"
        if options.permissions_boundary:
            assert role.permissions_boundary == options.permissions_boundary
        if iam is not None:
            submit(iam, role.inline_policies.values(), role.tags)


def submit(iam: Any, documents: Iterable[Mapping[str, Any]], tags: Mapping[str, str]) -> None:
    """IAM's grammar (moto): every inline document and the tags are accepted."""
    for document in documents:
        # (the IAM-resource-type finding counted here as known is fixed: dda585d)
        iam.put_role_policy(
            RoleName=FUZZ_ROLE, PolicyName="fuzz", PolicyDocument=json.dumps(document)
        )
    iam.tag_role(RoleName=FUZZ_ROLE, Tags=[{"Key": k, "Value": v} for k, v in tags.items()])
    iam.untag_role(RoleName=FUZZ_ROLE, TagKeys=list(tags))


FUZZ_ROLE = "kops-iam-fuzz-target"
