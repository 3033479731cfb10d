"""A small, faithful evaluator of IAM identity-based policies (test support).

Why not moto: moto's IAM authorization enforcement (``INITIAL_NO_AUTH_ACTION_COUNT``) only
applies to requests signed with IAM user keys, and it does not evaluate ``Condition``
blocks, which is where the reconciler's rights are narrowed (ownership tag, boundary,
passed-to service). So this module implements the part of AWS's documented policy
evaluation logic that identity policies of one principal need, and nothing more:

* a request (action, resource ARN, condition context) is allowed when at least one
  ``Allow`` statement matches it and no ``Deny`` statement does (explicit deny wins;
  nothing matching is an implicit deny). SCPs, resource policies, session policies and
  the principal's boundary are out of scope (the function role has none of them);
* ``Action``/``NotAction``: IAM wildcards ``*`` and ``?``, case-insensitive;
* ``Resource``/``NotResource``: ARN wildcards ``*`` and ``?`` (matching across ``:`` and
  ``/``), case-sensitive, ``"*"`` for everything;
* ``Condition``: every operator block must hold (AND), every key inside a block must hold
  (AND), any value of a key may match (OR; for negated operators none may match).
  Operators: ``StringEquals``, ``StringNotEquals``, ``StringEqualsIgnoreCase``,
  ``StringLike``, ``StringNotLike``, ``ArnEquals``, ``ArnLike``, ``ArnNotEquals``,
  ``ArnNotLike``, ``Bool``, ``Null``; the ``ForAllValues:`` and ``ForAnyValue:`` set
  prefixes and the ``IfExists`` suffix. A key missing from the request makes a positive
  operator false and a negated one true; ``...IfExists`` makes it true;
  ``ForAllValues`` is true for a missing or empty key, ``ForAnyValue`` false
  (all as the IAM User Guide's "Condition operators" and "Single-valued vs. multivalued
  context keys" pages describe). Condition keys are case-insensitive, values are not;
* policy variables in string condition values (``"${aws:ResourceTag/k}"``, the whole
  value), replaced by the request's value of that key (IAM User Guide, "Policy variables").
  A variable whose key the request does not have has no value, so nothing equals it (a
  positive operator is false for it, a negated one true); a default (``${k, 'd'}``) is not
  implemented and raises.

An operator it does not know raises :class:`UnsupportedPolicy`, so a template using one
cannot silently pass.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Decision = Literal["Allow", "ImplicitDeny", "ExplicitDeny"]
ContextValue = str | Sequence[str] | bool


class UnsupportedPolicy(Exception):
    """The policy uses something this evaluator does not implement."""


@dataclass(frozen=True)
class Request:
    """One authorization request: what the principal asks to do, on what, in which context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    #: Free text saying what the request stands for (test reports).
    label: str = ""


@dataclass(frozen=True)
class Result:
    decision: Decision
    matched: tuple[str, ...]  # Sids (or indexes) of the statements that matched

    @property
    def allowed(self) -> bool:
        return self.decision == "Allow"


@functools.lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def action_matches(patterns: Any, action: str) -> bool:
    return any(_wildcard(p, True).fullmatch(action) for p in _as_list(patterns))


def resource_matches(patterns: Any, resource: str) -> bool:
    return any(p == "*" or _wildcard(p, False).fullmatch(resource) for p in _as_list(patterns))


_STRING_OPS = {
    "StringEquals": (lambda v, p: v == p, False),
    "StringNotEquals": (lambda v, p: v == p, True),
    "StringEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda v, p: v.lower() == p.lower(), True),
    "StringLike": (lambda v, p: bool(_wildcard(p, False).fullmatch(v)), False),
    "StringNotLike": (lambda v, p: bool(_wildcard(p, False).fullmatch(v)), True),
    "ArnEquals": (lambda v, p: v == p, False),
    "ArnNotEquals": (lambda v, p: v == p, True),
    "ArnLike": (lambda v, p: bool(_wildcard(p, False).fullmatch(v)), False),
    "ArnNotLike": (lambda v, p: bool(_wildcard(p, False).fullmatch(v)), True),
    "Bool": (lambda v, p: str(v).lower() == str(p).lower(), False),
}


def _lookup(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    lowered = key.lower()
    for name, value in context.items():
        if name.lower() == lowered:
            if isinstance(value, bool):
                return ["true" if value else "false"]
            return [value] if isinstance(value, str) else [str(v) for v in value]
    return None


def condition_holds(condition: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Whether a statement's whole ``Condition`` block holds for ``context``."""
    for operator, entries in condition.items():
        set_op = None
        base = operator
        for prefix in ("ForAllValues:", "ForAnyValue:"):
            if base.startswith(prefix):
                set_op, base = prefix[:-1], base[len(prefix) :]
        if_exists = base.endswith("IfExists") and base != "IfExists"
        if if_exists:
            base = base[: -len("IfExists")]
        for key, expected in entries.items():
            wanted = _resolve(_as_list(expected), context)
            if not _key_holds(base, set_op, if_exists, _lookup(context, key), wanted):
                return False
    return True


_VARIABLE = re.compile(r"^\$\{([^}]+)\}$")
#: Stands for a policy variable without a value: equal to (or like) nothing.
_NO_VALUE = object()


def _resolve(expected: list[Any], context: Mapping[str, ContextValue]) -> list[Any]:
    resolved: list[Any] = []
    for value in expected:
        match = _VARIABLE.match(value) if isinstance(value, str) else None
        if match is None:
            resolved.append(value)
            continue
        key = match.group(1)
        if "," in key or "$" in key:
            raise UnsupportedPolicy(f"policy variable {value}")
        found = _lookup(context, key)
        if found is None or len(found) != 1:
            if found is not None:
                raise UnsupportedPolicy(f"multivalued policy variable {value}")
            resolved.append(_NO_VALUE)
        else:
            resolved.append(found[0])
    return resolved


def _key_holds(
    base: str, set_op: str | None, if_exists: bool, values: list[str] | None, expected: list[Any]
) -> bool:
    if base == "Null":
        if set_op or if_exists:
            raise UnsupportedPolicy(f"Null with {set_op or 'IfExists'}")
        absent = values is None or values == []
        return any(str(e).lower() == ("true" if absent else "false") for e in expected)
    if base not in _STRING_OPS:
        raise UnsupportedPolicy(f"condition operator {base}")
    compare, negated = _STRING_OPS[base]

    def one(value: str) -> bool:
        hit = any(compare(value, str(e)) for e in expected if e is not _NO_VALUE)
        return not hit if negated else hit

    if set_op == "ForAllValues":
        return values is None or all(one(v) for v in values)
    if set_op == "ForAnyValue":
        return values is not None and any(one(v) for v in values)
    if values is None:
        return True if if_exists else negated
    if len(values) != 1:
        raise UnsupportedPolicy(f"{base} on a multivalued key without ForAllValues/ForAnyValue")
    return one(values[0])


def statement_matches(statement: Mapping[str, Any], request: Request) -> bool:
    if "Principal" in statement or "NotPrincipal" in statement:
        raise UnsupportedPolicy("Principal in an identity policy")
    if "Action" in statement:
        if not action_matches(statement["Action"], request.action):
            return False
    elif "NotAction" in statement:
        if action_matches(statement["NotAction"], request.action):
            return False
    else:
        raise UnsupportedPolicy("statement without Action or NotAction")
    if "Resource" in statement:
        if not resource_matches(statement["Resource"], request.resource):
            return False
    elif "NotResource" in statement:
        if resource_matches(statement["NotResource"], request.resource):
            return False
    else:
        raise UnsupportedPolicy("statement without Resource or NotResource")
    return condition_holds(statement.get("Condition", {}), request.context)


def evaluate(statements: Iterable[Mapping[str, Any]], request: Request) -> Result:
    """AWS's decision for ``request`` under these identity-policy statements."""
    allows: list[str] = []
    denies: list[str] = []
    for index, statement in enumerate(statements):
        effect = statement.get("Effect")
        if effect not in ("Allow", "Deny"):
            raise UnsupportedPolicy(f"Effect {effect!r}")
        if statement_matches(statement, request):
            (allows if effect == "Allow" else denies).append(str(statement.get("Sid", index)))
    if denies:
        return Result("ExplicitDeny", tuple(denies))
    if allows:
        return Result("Allow", tuple(allows))
    return Result("ImplicitDeny", ())
