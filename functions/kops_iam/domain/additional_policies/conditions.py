"""``Condition``: IAM's operators, condition keys, and values that suit their operator."""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any, Final

from kops_iam.domain.additional_policies.checks import Checks
from kops_iam.domain.additional_policies.text import kind, quote
from kops_iam.domain.errors import join_path

#: IAM condition operators (without ``ForAnyValue:``/``ForAllValues:`` and ``IfExists``).
CONDITION_OPERATORS: Final = frozenset(
    {
        "StringEquals",
        "StringNotEquals",
        "StringEqualsIgnoreCase",
        "StringNotEqualsIgnoreCase",
        "StringLike",
        "StringNotLike",
        "NumericEquals",
        "NumericNotEquals",
        "NumericLessThan",
        "NumericLessThanEquals",
        "NumericGreaterThan",
        "NumericGreaterThanEquals",
        "DateEquals",
        "DateNotEquals",
        "DateLessThan",
        "DateLessThanEquals",
        "DateGreaterThan",
        "DateGreaterThanEquals",
        "Bool",
        "BinaryEquals",
        "IpAddress",
        "NotIpAddress",
        "ArnEquals",
        "ArnLike",
        "ArnNotEquals",
        "ArnNotLike",
        "Null",
    }
)
SET_OPERATOR_PREFIXES: Final = ("ForAnyValue:", "ForAllValues:")
IF_EXISTS: Final = "IfExists"


def check_condition(checks: Checks, value: Any, path: str) -> None:
    """Check a ``Condition`` block: operators, keys and values."""
    if not isinstance(value, dict):
        checks.error(path, f"must be an object of condition operators, found {kind(value)}")
        return
    for key in getattr(value, "duplicates", ()):
        checks.error(join_path(path, key), "appears more than once in the Condition")
    for operator, keys in value.items():
        operator_path = join_path(path, operator)
        if checks.text(operator, operator_path):
            continue
        base = check_operator(checks, operator, operator_path)
        if not isinstance(keys, dict):
            checks.error(operator_path, f"must be an object of condition keys, found {kind(keys)}")
            continue
        if not keys:
            checks.error(operator_path, "needs at least one condition key")
        for key in getattr(keys, "duplicates", ()):
            checks.error(join_path(operator_path, key), "appears more than once")
        for key, values in keys.items():
            key_path = join_path(operator_path, key)
            if checks.text(key, key_path):
                continue
            if ":" not in key.strip(":") or key != key.strip():
                checks.error(
                    key_path,
                    f"{quote(key)} is not a condition key (service:key, e.g. aws:SourceIp)",
                )
            check_values(checks, values, key_path, base)


def check_operator(checks: Checks, operator: str, path: str) -> str | None:
    """Check an operator name; return its base operator when valid."""
    base = operator
    for prefix in SET_OPERATOR_PREFIXES:
        if base.startswith(prefix):
            base = base[len(prefix) :]
            break
    if base.endswith(IF_EXISTS) and base != IF_EXISTS:
        base = base[: -len(IF_EXISTS)]
        if base == "Null":
            checks.error(path, "NullIfExists is not a condition operator (Null takes no IfExists)")
            return None
    if base in CONDITION_OPERATORS:
        return base
    close = checks.suggest(base, tuple(sorted(CONDITION_OPERATORS)))
    hint = f" (did you mean {close!r}?)" if close else ""
    checks.error(
        path,
        f"unknown condition operator {quote(operator)}{hint}; operators are IAM's "
        "(StringEquals, StringLike, ArnLike, IpAddress, NumericLessThan, "
        "DateGreaterThan, Bool, Null, ...) with an optional ForAnyValue:/ForAllValues: "
        "prefix and IfExists suffix (case-sensitive)",
    )
    return None


def check_values(checks: Checks, values: Any, path: str, base: str | None) -> None:
    """Check a condition key's value(s) against its operator ``base``."""
    if isinstance(values, list):
        if not values:
            checks.error(path, "must not be an empty list")
        items = [(join_path(path, index), item) for index, item in enumerate(values)]
    else:
        items = [(path, values)]
    for item_path, item in items:
        if isinstance(item, str):
            if checks.text(item, item_path):
                continue
        elif item is None or not isinstance(item, str | int | float | bool):
            checks.error(item_path, f"must be a string, number or boolean, found {kind(item)}")
            continue
        problem = value_problem(base, item)
        if problem:
            checks.error(item_path, problem)


def value_problem(base: str | None, value: str | int | float | bool) -> str | None:
    """Why a condition value does not suit its operator, or ``None``."""
    if base is None or (isinstance(value, str) and "${" in value):
        return None  # unknown operator (reported) or a policy variable (resolved at runtime)
    text = str(value).lower() if isinstance(value, bool) else value
    if base in ("Bool", "Null"):
        if isinstance(text, str) and text.lower() in ("true", "false"):
            return None
        return f"{base} takes true or false, found {quote(value)}"
    if base.startswith("Numeric"):
        if isinstance(value, bool):
            return f"{base} takes a number, found {quote(value)}"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return f"{base} takes a number, found {quote(value)}"
        return None
    if base.startswith("Date"):
        if isinstance(value, bool):
            return f"{base} takes a date (ISO 8601) or epoch seconds, found {quote(value)}"
        if isinstance(value, str) and not is_date(value):
            return (
                f"{base} takes a date (ISO 8601, e.g. 2030-01-01T00:00:00Z) or epoch "
                f"seconds, found {quote(value)}"
            )
        return None
    if base in ("IpAddress", "NotIpAddress"):
        try:
            ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            return f"{base} takes an IP address or CIDR, found {quote(value)}"
    return None


def is_date(value: str) -> bool:
    """Whether IAM reads ``value`` as a date: epoch seconds or ISO 8601."""
    try:
        float(value)
        return True
    except ValueError:
        pass
    try:
        datetime.datetime.fromisoformat(value)
    except ValueError:
        return False
    return True
