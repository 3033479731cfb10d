"""Validation of one ``additionalPolicies`` value: a string holding a JSON array of statements.

Every problem is reported at once, each as an :class:`~kops_iam.domain.errors.Issue` whose path
points into the value, e.g. ``spec.additionalPolicies.node[1].Action[0]`` (statement index,
IAM key, then list index when the value is a list). Statements come back normalized to IAM's
own keys (``Sid``, ``Effect``, ``Action``, ...), in their original order.

Checks: the JSON shape kops expects; IAM's statement grammar for a role's identity policy;
every action against the offline catalogue (:mod:`kops_iam.domain.catalogue`); ARNs in the
cluster's partition; characters IAM allows in policy text; IAM's size limit, as far as the
value alone decides it; and the privilege-escalation guardrail
(:mod:`kops_iam.domain.guardrail`), which only the operator can relax. Names the catalogue
does not know (newer than it, unless one edit from a known name) and retired services are
warnings (ADR 100).
docs/policy-rules.md lists every rule with the IAM behaviour it mirrors.

Modules by statement part: :mod:`.statement` (keys, ``Effect``, ``Sid``), :mod:`.actions`
(catalogue and guardrail), :mod:`.resources` (ARNs), :mod:`.conditions` (operators and
values), :mod:`.text` (characters IAM allows, echoing user text), :mod:`.checks` (the
state one value's checks share).
"""

from __future__ import annotations

import json
from typing import Any, Final

from kops_iam.domain.additional_policies.checks import MAX_SUGGESTIONS, Checks
from kops_iam.domain.additional_policies.statement import STATEMENT_KEYS, check_statement
from kops_iam.domain.additional_policies.text import FORBIDDEN, describe_char, kind
from kops_iam.domain.catalogue import ActionCatalogue, default_catalogue
from kops_iam.domain.errors import Issue, SpecInvalid, join_path
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import check_json_depth
from kops_iam.domain.policy import MAX_INLINE_POLICY_CHARS, policy_document, policy_size


def _issue(path: str, message: str) -> Issue:
    """A finding of this module (code ``policy``)."""
    return Issue(path, message, "policy")


__all__ = ["MAX_STATEMENTS", "MAX_SUGGESTIONS", "STATEMENT_KEYS", "check_additional_policy"]

#: Most statements checked in one value. A role's inline policies share 10,240 characters,
#: room for about 220 of the smallest statements, so more can never be applied; the bound
#: keeps the work on a hostile spec small.
MAX_STATEMENTS: Final = 1000


class _JsonObject(dict[str, Any]):
    """A parsed JSON object that remembers keys it saw more than once."""

    duplicates: tuple[str, ...] = ()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _JsonObject:
    result = _JsonObject()
    duplicates = []
    for key, value in pairs:
        if key in result:
            duplicates.append(key)
        result[key] = value
    result.duplicates = tuple(duplicates)
    return result


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def check_additional_policy(
    raw: object,
    path: str,
    *,
    partition: str,
    options: Options,
    catalogue: ActionCatalogue | None = None,
    warnings: list[Issue] | None = None,
) -> tuple[list[dict[str, Any]], list[Issue]]:
    """Validate one additionalPolicies value.

    Parameters
    ----------
    raw
        The value as the spec holds it; kops' shape is a string with a JSON array of
        IAM statements.
    path
        Field path of the value, e.g. ``spec.additionalPolicies.node``.
    partition
        The cluster's partition (``aws``, ``aws-cn``, ``aws-us-gov``); ARNs must use it.
    options
        Operator options: ``allowed_actions`` relaxes the escalation guardrail;
        ``unknown_actions`` and ``known_actions`` decide about names the catalogue lacks.
    catalogue
        IAM action catalogue; the shipped one (:func:`default_catalogue`) when omitted.
    warnings
        Where warnings go (names newer than the catalogue, ...); dropped when omitted.

    Returns
    -------
    tuple[list[dict], list[Issue]]
        The statements normalized to IAM's keys, in order, and every error found. The
        statements are meaningful only when there are no errors.
    """
    parsed, errors = _parse(raw, path)
    if parsed is None:
        return [], errors
    checks = Checks(
        partition=partition,
        allowed=options.allowed_actions,
        approval=options.approval,
        catalogue=catalogue if catalogue is not None else default_catalogue(),
        errors=errors,
        warnings=warnings,
        unknown_actions=options.unknown_actions,
        known_actions=options.known_actions,
    )
    if len(parsed) > MAX_STATEMENTS:
        errors.append(
            _issue(
                path,
                f"holds {len(parsed)} statements; kops-iam checks at most {MAX_STATEMENTS} "
                "(a role's inline policies share 10,240 characters, room for about 220 "
                "statements); split or shorten them",
            )
        )
    statements = [
        normalized
        for index, statement in enumerate(parsed[:MAX_STATEMENTS])
        if (normalized := check_statement(checks, statement, join_path(path, index))) is not None
    ]
    checks.finish_warnings(path)
    _check_size(checks, statements, path)
    return statements, errors


def _check_size(checks: Checks, statements: list[dict[str, Any]], path: str) -> None:
    """IAM's limit on a role's inline policies, as far as this value alone decides it.

    The role's whole size (with kops-iam's own policy) is checked once the spec is valid
    (:func:`kops_iam.domain.policy.build_plan`); this part is reported with every other
    error, so a policy too large on its own is not found only after the others are fixed.
    """
    size = policy_size(policy_document(statements))
    if size > MAX_INLINE_POLICY_CHARS:
        checks.error(
            path,
            f"these statements alone take {size:,} characters (whitespace not counted), "
            f"over IAM's {MAX_INLINE_POLICY_CHARS:,} limit for all of a role's inline "
            "policies together; shorten them or split them across roles",
        )


def _parse(raw: object, path: str) -> tuple[list[Any] | None, list[Issue]]:
    role = path.rsplit(".", 1)[-1] or "node"
    if isinstance(raw, list | dict):
        found = "a YAML list" if isinstance(raw, list) else "a YAML mapping"
        return None, [
            _issue(
                path,
                f"must be a string holding a JSON array of IAM statements, found {found}; "
                f"kops reads this field as a string: quote it as a JSON string, e.g. "
                f'`{role}: |` followed by `[{{"Effect": "Allow", "Action": [...], '
                f'"Resource": [...]}}]` on the next lines',
            )
        ]
    if not isinstance(raw, str):
        return None, [
            _issue(
                path, f"must be a string holding a JSON array of IAM statements, found {kind(raw)}"
            )
        ]
    if not raw.strip():
        return None, [_issue(path, "is empty; it must hold a JSON array of IAM statements")]
    try:
        check_json_depth(raw, path=path)
    except SpecInvalid as exc:
        return None, [_issue(path, f"is not valid JSON for IAM: {exc.errors[0].message}")]
    try:
        value = json.loads(raw, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        near = raw[exc.pos] if exc.pos < len(raw) else ""
        found = ""
        if near and FORBIDDEN.match(near):
            found = f" (found {describe_char(near)}, which IAM does not allow in policy text)"
        elif near and (not near.isascii() or not near.isprintable()):
            found = f" (found {describe_char(near)})"
        return None, [
            _issue(
                path,
                f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{found}",
            )
        ]
    except RecursionError:
        return None, [_issue(path, "is not valid JSON: nested too deeply")]
    except ValueError as exc:
        return None, [_issue(path, f"is not valid JSON: {exc}")]
    if not isinstance(value, list):
        hint = "; wrap the statement in [ ]" if isinstance(value, dict) else ""
        return None, [
            _issue(path, f"must hold a JSON array of IAM statements, found {kind(value)}{hint}")
        ]
    if not value:
        return None, [
            _issue(
                path,
                "holds an empty array; IAM rejects a policy without statements, "
                "so remove the entry or add a statement",
            )
        ]
    return value, []
