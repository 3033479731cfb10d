"""Validation of one ``additionalPolicies`` value: a string holding a JSON array of statements.

Every problem is reported at once, each as an :class:`~kops_iam.domain.errors.Issue` whose path
points into the value, e.g. ``spec.additionalPolicies.node[1].Action[0]`` (statement index,
IAM key, then list index when the value is a list). Statements come back normalized to IAM's
own keys (``Sid``, ``Effect``, ``Action``, ...), in their original order.

Checks: the JSON shape kops expects; IAM's statement grammar for a role's identity policy;
every action against the offline catalogue (:mod:`kops_iam.domain.catalogue`); ARNs in the
cluster's partition; characters IAM allows in policy text; and the privilege-escalation
guardrail (:mod:`kops_iam.domain.guardrail`), which only the operator can relax.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import re
import unicodedata
from collections.abc import Iterator
from typing import Any, Final

from kops_iam.domain.catalogue import ActionCatalogue, default_catalogue, has_wildcard
from kops_iam.domain.errors import Issue, SpecInvalid, join_path
from kops_iam.domain.guardrail import disallowed, escalations, explain
from kops_iam.domain.options import Approval, Options
from kops_iam.domain.parsing import check_json_depth

#: Most statements checked in one value. A role's inline policies share 10,240 characters,
#: room for about 220 of the smallest statements, so more can never be applied; the bound
#: keeps the work on a hostile spec small.
MAX_STATEMENTS: Final = 1000
#: Longest action (or pattern) looked at; the longest real IAM action has 71 characters.
MAX_ACTION_LENGTH: Final = 128
#: Longest user text echoed back in a message.
_ECHO: Final = 80
#: Most "did you mean" suggestions computed in one value (difflib costs a few ms each).
MAX_SUGGESTIONS: Final = 20

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

#: Characters IAM forbids in policy text: all but tab, LF, CR and U+0020-U+00FF.
_FORBIDDEN: Final = re.compile(r"[^\t\n\r\x20-\xff]")
_NON_ASCII: Final = re.compile(r"[^\x00-\x7f]")
_SID: Final = re.compile(r"[A-Za-z0-9]+")
_SERVICE: Final = re.compile(r"[a-z0-9-]+")
_ACTION_NAME: Final = re.compile(r"[a-z0-9*?-]+")
_INVISIBLE: Final = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
#: Common look-alikes of ASCII letters (NFKC folds full-width and styled forms on top).
_CONFUSABLES: Final = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅοανιΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",  # noqa: RUF001 - look-alikes on purpose
    "aeopcyxijsdqwABEKMHOPCTXIJSoaviABEZHIKMNOPTYX",
)


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


#: Services whose resource ARNs never name a region: IAM refuses a policy whose ARN does.
GLOBAL_SERVICES: Final = frozenset({"s3", "iam"})
#: The resource types an IAM ARN may name (IAM refuses a policy naming another).
IAM_RESOURCE_TYPES: Final = (
    "user/",
    "federated-user/",
    "role/",
    "group/",
    "instance-profile/",
    "mfa/",
    "server-certificate/",
    "policy/",
    "sms-mfa/",
    "saml-provider/",
    "oidc-provider/",
    "report/",
    "access-report/",
)


def check_additional_policy(
    raw: object,
    path: str,
    *,
    partition: str,
    options: Options,
    catalogue: ActionCatalogue | None = None,
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
        Operator options; ``allowed_actions`` relaxes the escalation guardrail.
    catalogue
        IAM action catalogue; the shipped one (:func:`default_catalogue`) when omitted.

    Returns
    -------
    tuple[list[dict], list[Issue]]
        The statements normalized to IAM's keys, in order, and every error found. The
        statements are meaningful only when there are no errors.
    """
    parsed, errors = _parse(raw, path)
    if parsed is None:
        return [], errors
    checker = _Checker(
        partition=partition,
        allowed=options.allowed_actions,
        approval=options.approval,
        catalogue=catalogue if catalogue is not None else default_catalogue(),
        errors=errors,
    )
    if len(parsed) > MAX_STATEMENTS:
        errors.append(
            Issue(
                path,
                f"holds {len(parsed)} statements; kops-iam checks at most {MAX_STATEMENTS} "
                "(a role's inline policies share 10,240 characters, room for about 220 "
                "statements); split or shorten them",
            )
        )
    statements = [
        normalized
        for index, statement in enumerate(parsed[:MAX_STATEMENTS])
        if (normalized := checker.statement(statement, join_path(path, index))) is not None
    ]
    return statements, errors


def _parse(raw: object, path: str) -> tuple[list[Any] | None, list[Issue]]:
    role = path.rsplit(".", 1)[-1] or "node"
    if isinstance(raw, list | dict):
        found = "a YAML list" if isinstance(raw, list) else "a YAML mapping"
        return None, [
            Issue(
                path,
                f"must be a string holding a JSON array of IAM statements, found {found}; "
                f"kops reads this field as a string: quote it as a JSON string, e.g. "
                f'`{role}: |` followed by `[{{"Effect": "Allow", "Action": [...], '
                f'"Resource": [...]}}]` on the next lines',
            )
        ]
    if not isinstance(raw, str):
        return None, [
            Issue(
                path, f"must be a string holding a JSON array of IAM statements, found {_kind(raw)}"
            )
        ]
    if not raw.strip():
        return None, [Issue(path, "is empty; it must hold a JSON array of IAM statements")]
    try:
        check_json_depth(raw, path=path)
    except SpecInvalid as exc:
        return None, [Issue(path, f"is not valid JSON for IAM: {exc.errors[0].message}")]
    try:
        value = json.loads(raw, object_pairs_hook=_object_pairs, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        near = raw[exc.pos] if exc.pos < len(raw) else ""
        found = ""
        if near and _FORBIDDEN.match(near):
            found = f" (found {_describe_char(near)}, which IAM does not allow in policy text)"
        elif near and (not near.isascii() or not near.isprintable()):
            found = f" (found {_describe_char(near)})"
        return None, [
            Issue(
                path,
                f"is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}{found}",
            )
        ]
    except RecursionError:
        return None, [Issue(path, "is not valid JSON: nested too deeply")]
    except ValueError as exc:
        return None, [Issue(path, f"is not valid JSON: {exc}")]
    if not isinstance(value, list):
        hint = "; wrap the statement in [ ]" if isinstance(value, dict) else ""
        return None, [
            Issue(path, f"must hold a JSON array of IAM statements, found {_kind(value)}{hint}")
        ]
    if not value:
        return None, [
            Issue(
                path,
                "holds an empty array; IAM rejects a policy without statements, "
                "so remove the entry or add a statement",
            )
        ]
    return value, []


class _Checker:
    """Checks the statements of one value; collects errors and remembers Sids."""

    def __init__(
        self,
        *,
        partition: str,
        allowed: frozenset[str],
        approval: Approval,
        catalogue: ActionCatalogue,
        errors: list[Issue],
    ) -> None:
        self.partition = partition
        self.allowed = allowed
        self.approval = approval
        self.catalogue = catalogue
        self.errors = errors
        self.sids: dict[str, str] = {}
        self.suggestions_left = MAX_SUGGESTIONS

    def error(self, path: str, message: str) -> None:
        self.errors.append(Issue(path, message))

    # -- statement -----------------------------------------------------------------------

    def statement(self, statement: Any, path: str) -> dict[str, Any] | None:
        if not isinstance(statement, dict):
            self.error(path, f"must be a JSON object (an IAM statement), found {_kind(statement)}")
            return None
        fields: dict[str, tuple[str, Any]] = {}  # canonical key -> (key as written, value)
        for key in getattr(statement, "duplicates", ()):
            self.error(join_path(path, key), "appears more than once in the statement")
        for key, value in statement.items():
            canonical = _CANONICAL_KEYS.get(key.lower())
            key_path = join_path(path, key)
            if canonical is None:
                self.text(key, key_path)
                self.error(
                    key_path,
                    f"unknown statement key {_quote(key)}; a statement has Sid, Effect, "
                    "Action or NotAction, Resource or NotResource, and Condition",
                )
            elif canonical in _PRINCIPAL_KEYS:
                self.error(
                    key_path,
                    f"{canonical} is not allowed in a role's own (identity) policy; who may "
                    "assume the role is set by its trust policy, which kops-iam manages",
                )
            elif canonical in fields:
                self.error(key_path, f"repeats {canonical} (keys are case-insensitive here)")
            else:
                fields[canonical] = (key, value)

        effect = self.effect(fields, path)
        self.exactly_one(fields, path, "Action", "NotAction")
        self.exactly_one(fields, path, "Resource", "NotResource")
        if "Sid" in fields:
            self.sid(*fields["Sid"], path)
        for key in ("Action", "NotAction"):
            if key in fields:
                written, value = fields[key]
                self.actions(
                    value,
                    join_path(path, written),
                    allow=effect == "allow",
                    negated=key == "NotAction",
                )
        for key in ("Resource", "NotResource"):
            if key in fields:
                written, value = fields[key]
                self.resources(value, join_path(path, written))
        if "Condition" in fields:
            written, value = fields["Condition"]
            self.condition(value, join_path(path, written))
        return {key: _plain(fields[key][1]) for key in STATEMENT_KEYS if key in fields}

    def exactly_one(
        self, fields: dict[str, tuple[str, Any]], path: str, one: str, other: str
    ) -> None:
        if one in fields and other in fields:
            self.error(path, f"has both {one} and {other}; a statement takes exactly one of them")
        elif one not in fields and other not in fields:
            self.error(path, f"needs {one} (or {other})")

    def effect(self, fields: dict[str, tuple[str, Any]], path: str) -> str | None:
        """Check Effect; return it lower-cased when it is a string (for the guardrail)."""
        if "Effect" not in fields:
            self.error(path, "needs Effect (Allow or Deny)")
            return None
        written, value = fields["Effect"]
        effect_path = join_path(path, written)
        if not isinstance(value, str):
            self.error(effect_path, f"must be Allow or Deny, found {_kind(value)}")
            return None
        if value not in EFFECTS:
            hint = " (IAM is case-sensitive here)" if value.strip().capitalize() in EFFECTS else ""
            self.error(effect_path, f"must be Allow or Deny, found {_quote(value)}{hint}")
        return value.strip().lower()

    def sid(self, written: str, value: Any, path: str) -> None:
        sid_path = join_path(path, written)
        if not isinstance(value, str):
            self.error(sid_path, f"must be a string, found {_kind(value)}")
        elif not _SID.fullmatch(value):
            self.error(
                sid_path,
                f"{_quote(value)} is not a valid Sid: IAM allows only letters A-Z, a-z and "
                "digits 0-9",
            )
        elif value in self.sids:
            self.error(sid_path, f"duplicate Sid {_quote(value)} (also at {self.sids[value]})")
        else:
            self.sids[value] = sid_path

    # -- actions -------------------------------------------------------------------------

    def actions(self, value: Any, path: str, *, allow: bool, negated: bool) -> None:
        strings = []
        for item_path, action in self.string_list(value, path, "actions"):
            strings.append(action)
            self.action(action, item_path)
            if allow and not negated:
                covered = escalations((action,), not_action=False, catalogue=self.catalogue)
                blocked = disallowed(covered, self.allowed)
                if blocked:
                    self.error(item_path, explain(_shorten(action), blocked, self.approval))
        if allow and negated:
            covered = escalations(strings, not_action=True, catalogue=self.catalogue)
            blocked = disallowed(covered, self.allowed)
            if blocked:
                self.error(
                    path,
                    explain(
                        "an Allow statement with NotAction (it allows every action not listed)",
                        blocked,
                        self.approval,
                    ),
                )

    def action(self, action: str, path: str) -> None:
        if len(action) > MAX_ACTION_LENGTH:
            self.error(
                path,
                f"{_quote(action)} is longer than any IAM action ({len(action)} characters; "
                f"at most {MAX_ACTION_LENGTH})",
            )
            return
        if _NON_ASCII.search(action):
            self.error(path, self.lookalike(action))
            return
        if self.text(action, path):
            return
        if action == "*":
            return
        if action != action.strip():
            self.error(path, f"{_quote(action)} has leading or trailing whitespace")
            return
        service, sep, name = action.lower().partition(":")
        if not sep or not name or ":" in name or not _ACTION_NAME.fullmatch(name):
            self.error(
                path,
                f"{_quote(action)} is not an IAM action: write service:ActionName "
                "(e.g. ec2:DescribeInstances, wildcards * and ? allowed in the name) or *",
            )
            return
        if has_wildcard(service):
            self.error(
                path,
                f"{_quote(action)}: wildcards are not allowed in the service prefix; write * alone "
                "for every action of every service",
            )
            return
        if not _SERVICE.fullmatch(service) or not self.catalogue.has_service(service):
            close = self.suggest(service, self.catalogue.services)
            hint = f"; did you mean {close!r}?" if close else ""
            self.error(path, f"{_quote(action)}: unknown IAM service {service!r}{hint}")
            return
        if has_wildcard(name):
            if not self.catalogue.expand(action):
                self.error(path, f"{_quote(action)} matches no action of IAM service {service!r}")
            return
        if self.catalogue.canonical(action) is None:
            known = tuple(f"{service}:{n}" for n in self.catalogue.actions(service))
            close = self.suggest(action, known)
            hint = f"; did you mean {close!r}?" if close else ""
            self.error(path, f"{_quote(action)} is not an action of IAM service {service!r}{hint}")

    def lookalike(self, action: str) -> str:
        chars = sorted(set(_NON_ASCII.findall(action)), key=action.index)
        described = ", ".join(_describe_char(char) for char in chars[:3])
        fixed = unicodedata.normalize("NFKC", action.translate(_INVISIBLE).translate(_CONFUSABLES))
        hint = ""
        if fixed != action and fixed.isascii() and (fixed == "*" or self.catalogue.expand(fixed)):
            expanded = self.catalogue.canonical(fixed) or fixed
            hint = f"; did you mean {expanded!r}?"
        noun = "character" if len(chars) == 1 else "characters"
        return (
            f"{_quote(action)} contains non-ASCII {noun} {described}, which may look like "
            f"ASCII but is not; IAM action names are plain ASCII{hint}"
        )

    def suggest(self, word: str, candidates: tuple[str, ...]) -> str | None:
        """The candidate closest to ``word`` (case-insensitive), if one is close enough."""
        if self.suggestions_left <= 0 or not candidates:
            return None
        self.suggestions_left -= 1
        import difflib  # error path only: keeps ~8 ms off the Lambda's import time

        lowered = {candidate.lower(): candidate for candidate in candidates}
        close = difflib.get_close_matches(word.lower(), lowered, n=1, cutoff=0.75)
        return lowered[close[0]] if close else None

    # -- resources -----------------------------------------------------------------------

    def resources(self, value: Any, path: str) -> None:
        for item_path, resource in self.string_list(value, path, "resources"):
            if self.text(resource, item_path) or resource == "*":
                continue
            parts = resource.split(":", 5)
            if parts[0] != "arn" or len(parts) < 6 or not parts[1] or not parts[2]:
                self.error(
                    item_path,
                    f"{_quote(resource)} is not * or an ARN "
                    f"(arn:{self.partition}:service:region:account:resource)",
                )
            elif parts[1] not in (self.partition, "*"):
                self.error(
                    item_path,
                    f"ARN partition does not match the cluster's: expected "
                    f"arn:{self.partition}:..., found arn:{parts[1]}:...",
                )
            elif parts[2] in GLOBAL_SERVICES and parts[3]:
                self.error(
                    item_path,
                    f"{parts[2]} ARNs have no region (arn:{parts[1]}:{parts[2]}::...); IAM "
                    f"refuses {_quote(resource)} because it names {_quote(parts[3])}",
                )
            elif parts[2] == "iam" and not (
                parts[5] == "*" or parts[5].startswith(IAM_RESOURCE_TYPES)
            ):
                self.error(
                    item_path,
                    f"{_quote(resource)}: an IAM resource is * or starts with "
                    + ", ".join(IAM_RESOURCE_TYPES)
                    + " (IAM refuses anything else)",
                )

    # -- conditions ----------------------------------------------------------------------

    def condition(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            self.error(path, f"must be an object of condition operators, found {_kind(value)}")
            return
        for key in getattr(value, "duplicates", ()):
            self.error(join_path(path, key), "appears more than once in the Condition")
        for operator, keys in value.items():
            operator_path = join_path(path, operator)
            if self.text(operator, operator_path):
                continue
            base = self.operator(operator, operator_path)
            if not isinstance(keys, dict):
                self.error(
                    operator_path, f"must be an object of condition keys, found {_kind(keys)}"
                )
                continue
            if not keys:
                self.error(operator_path, "needs at least one condition key")
            for key in getattr(keys, "duplicates", ()):
                self.error(join_path(operator_path, key), "appears more than once")
            for key, values in keys.items():
                key_path = join_path(operator_path, key)
                if self.text(key, key_path):
                    continue
                if ":" not in key.strip(":") or key != key.strip():
                    self.error(
                        key_path,
                        f"{_quote(key)} is not a condition key (service:key, e.g. aws:SourceIp)",
                    )
                self.condition_values(values, key_path, base)

    def operator(self, operator: str, path: str) -> str | None:
        """Check an operator name; return its base operator when valid."""
        base = operator
        for prefix in SET_OPERATOR_PREFIXES:
            if base.startswith(prefix):
                base = base[len(prefix) :]
                break
        if base.endswith(IF_EXISTS) and base != IF_EXISTS:
            base = base[: -len(IF_EXISTS)]
            if base == "Null":
                self.error(
                    path, "NullIfExists is not a condition operator (Null takes no IfExists)"
                )
                return None
        if base in CONDITION_OPERATORS:
            return base
        close = self.suggest(base, tuple(sorted(CONDITION_OPERATORS)))
        hint = f" (did you mean {close!r}?)" if close else ""
        self.error(
            path,
            f"unknown condition operator {_quote(operator)}{hint}; operators are IAM's "
            "(StringEquals, StringLike, ArnLike, IpAddress, NumericLessThan, "
            "DateGreaterThan, Bool, Null, ...) with an optional ForAnyValue:/ForAllValues: "
            "prefix and IfExists suffix (case-sensitive)",
        )
        return None

    def condition_values(self, values: Any, path: str, base: str | None) -> None:
        if isinstance(values, list):
            if not values:
                self.error(path, "must not be an empty list")
            items = [(join_path(path, index), item) for index, item in enumerate(values)]
        else:
            items = [(path, values)]
        for item_path, item in items:
            if isinstance(item, str):
                if self.text(item, item_path):
                    continue
            elif item is None or not isinstance(item, str | int | float | bool):
                self.error(item_path, f"must be a string, number or boolean, found {_kind(item)}")
                continue
            problem = _value_problem(base, item)
            if problem:
                self.error(item_path, problem)

    # -- shared --------------------------------------------------------------------------

    def string_list(self, value: Any, path: str, what: str) -> Iterator[tuple[str, str]]:
        """Yield (path, string) of a string-or-list value, reporting anything else."""
        if isinstance(value, str):
            yield path, value
            return
        if not isinstance(value, list):
            self.error(path, f"must be a string or a list of strings, found {_kind(value)}")
            return
        if not value:
            self.error(path, f"must not be an empty list of {what}")
        for index, item in enumerate(value):
            item_path = join_path(path, index)
            if isinstance(item, str):
                yield item_path, item
            else:
                self.error(item_path, f"must be a string, found {_kind(item)}")

    def text(self, text: str, path: str) -> bool:
        """Report characters IAM forbids in policy text; return whether there were any."""
        match = _FORBIDDEN.search(text)
        if match is None:
            return False
        self.error(
            path,
            f"contains {_describe_char(match.group())}, which IAM does not allow in a policy "
            "(only tab, line feed, carriage return and U+0020 to U+00FF)",
        )
        return True


def _value_problem(base: str | None, value: str | int | float | bool) -> str | None:
    """Why a condition value does not suit its operator, or ``None``."""
    if base is None or (isinstance(value, str) and "${" in value):
        return None  # unknown operator (reported) or a policy variable (resolved at runtime)
    text = str(value).lower() if isinstance(value, bool) else value
    if base in ("Bool", "Null"):
        if isinstance(text, str) and text.lower() in ("true", "false"):
            return None
        return f"{base} takes true or false, found {_quote(value)}"
    if base.startswith("Numeric"):
        if isinstance(value, bool):
            return f"{base} takes a number, found {_quote(value)}"
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return f"{base} takes a number, found {_quote(value)}"
        return None
    if base.startswith("Date"):
        if isinstance(value, bool):
            return f"{base} takes a date (ISO 8601) or epoch seconds, found {_quote(value)}"
        if isinstance(value, str) and not _is_date(value):
            return (
                f"{base} takes a date (ISO 8601, e.g. 2030-01-01T00:00:00Z) or epoch "
                f"seconds, found {_quote(value)}"
            )
        return None
    if base in ("IpAddress", "NotIpAddress"):
        try:
            ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            return f"{base} takes an IP address or CIDR, found {_quote(value)}"
    return None


def _is_date(value: str) -> bool:
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


def _plain(value: Any) -> Any:
    """A copy of parsed JSON made of plain dicts and lists."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a value of type {type(value).__name__}"


def _shorten(text: str) -> str:
    """User text as echoed in messages: long text is cut, saying how long it was."""
    return text if len(text) <= _ECHO else f"{text[:_ECHO]}... ({len(text)} characters)"


def _quote(value: object) -> str:
    """``repr`` of a user value for messages, long strings shortened."""
    if isinstance(value, str) and len(value) > _ECHO:
        return f"{value[:_ECHO]!r}... ({len(value)} characters)"
    return repr(value)


def _describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"
