"""One statement: its keys (IAM's, any letter case), ``Effect``, ``Sid`` and the one-of pairs;
the parts are checked by :mod:`.actions`, :mod:`.resources` and :mod:`.conditions`."""

from __future__ import annotations

import re
from typing import Any, Final

from kops_iam.domain.additional_policies.actions import check_actions
from kops_iam.domain.additional_policies.checks import Checks
from kops_iam.domain.additional_policies.conditions import check_condition
from kops_iam.domain.additional_policies.resources import check_resources
from kops_iam.domain.additional_policies.text import kind, plain, quote
from kops_iam.domain.errors import join_path

#: IAM statement keys of an identity policy, in the order normalized statements use.
STATEMENT_KEYS: Final = (
    "Sid",
    "Effect",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
)
EFFECTS: Final = ("Allow", "Deny")
_PRINCIPAL_KEYS: Final = ("Principal", "NotPrincipal")
_CANONICAL_KEYS: Final = {key.lower(): key for key in (*STATEMENT_KEYS, *_PRINCIPAL_KEYS)}
_SID: Final = re.compile(r"[A-Za-z0-9]+")

#: (key as written, value) by canonical key.
Fields = dict[str, tuple[str, Any]]


def check_statement(checks: Checks, statement: Any, path: str) -> dict[str, Any] | None:
    """Check one statement; return it with IAM's keys (``None`` when it is no object)."""
    if not isinstance(statement, dict):
        checks.error(path, f"must be a JSON object (an IAM statement), found {kind(statement)}")
        return None
    fields = _fields(checks, statement, path)
    effect = _effect(checks, fields, path)
    _exactly_one(checks, fields, path, "Action", "NotAction")
    _exactly_one(checks, fields, path, "Resource", "NotResource")
    if "Sid" in fields:
        _sid(checks, *fields["Sid"], path)
    for key in ("Action", "NotAction"):
        if key in fields:
            written, value = fields[key]
            check_actions(
                checks,
                value,
                join_path(path, written),
                allow=effect == "allow",
                negated=key == "NotAction",
            )
    for key in ("Resource", "NotResource"):
        if key in fields:
            written, value = fields[key]
            check_resources(checks, value, join_path(path, written))
    if "Condition" in fields:
        written, value = fields["Condition"]
        check_condition(checks, value, join_path(path, written))
    return {key: plain(fields[key][1]) for key in STATEMENT_KEYS if key in fields}


def _fields(checks: Checks, statement: dict[str, Any], path: str) -> Fields:
    """The statement's keys by their IAM spelling; unknown, principal and repeated keys
    are errors."""
    fields: Fields = {}
    for key in getattr(statement, "duplicates", ()):
        checks.error(join_path(path, key), "appears more than once in the statement")
    for key, value in statement.items():
        canonical = _CANONICAL_KEYS.get(key.lower())
        key_path = join_path(path, key)
        if canonical is None:
            checks.text(key, key_path)
            checks.error(
                key_path,
                f"unknown statement key {quote(key)}; a statement has Sid, Effect, "
                "Action or NotAction, Resource or NotResource, and Condition",
            )
        elif canonical in _PRINCIPAL_KEYS:
            checks.error(
                key_path,
                f"{canonical} is not allowed in a role's own (identity) policy; who may "
                "assume the role is set by its trust policy, which kops-iam manages",
            )
        elif canonical in fields:
            checks.error(key_path, f"repeats {canonical} (keys are case-insensitive here)")
        else:
            fields[canonical] = (key, value)
    return fields


def _exactly_one(checks: Checks, fields: Fields, path: str, one: str, other: str) -> None:
    if one in fields and other in fields:
        checks.error(path, f"has both {one} and {other}; a statement takes exactly one of them")
    elif one not in fields and other not in fields:
        checks.error(path, f"needs {one} (or {other})")


def _effect(checks: Checks, fields: Fields, path: str) -> str | None:
    """Check Effect; return it lower-cased when it is a string (for the guardrail)."""
    if "Effect" not in fields:
        checks.error(path, "needs Effect (Allow or Deny)")
        return None
    written, value = fields["Effect"]
    effect_path = join_path(path, written)
    if not isinstance(value, str):
        checks.error(effect_path, f"must be Allow or Deny, found {kind(value)}")
        return None
    if value not in EFFECTS:
        hint = " (IAM is case-sensitive here)" if value.strip().capitalize() in EFFECTS else ""
        checks.error(effect_path, f"must be Allow or Deny, found {quote(value)}{hint}")
    return value.strip().lower()


def _sid(checks: Checks, written: str, value: Any, path: str) -> None:
    sid_path = join_path(path, written)
    if not isinstance(value, str):
        checks.error(sid_path, f"must be a string, found {kind(value)}")
    elif not _SID.fullmatch(value):
        checks.error(
            sid_path,
            f"{quote(value)} is not a valid Sid: IAM allows only letters A-Z, a-z and digits 0-9",
        )
    elif value in checks.sids:
        checks.error(sid_path, f"duplicate Sid {quote(value)} (also at {checks.sids[value]})")
    else:
        checks.sids[value] = sid_path
