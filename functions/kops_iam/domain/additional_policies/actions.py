"""``Action`` / ``NotAction``: names checked against the catalogue, and the guardrail.

IAM accepts any well-formed action name: one it does not know grants nothing. The
catalogue is a snapshot of AWS's documentation (:meth:`ActionCatalogue.describe` names its
date), so a name it does not list is either newer than the catalogue or a mistake. Only a
likely mistake is refused: a name one edit away from a catalogued action of the same
service, or a service prefix one edit away from a known one (with a "did you mean"). Any
other unknown name is a warning, or an error when the operator chooses
``unknown_actions="error"`` (ADR 100). Names of retired services are a warning saying so.
The guardrail never depends on the catalogue.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

from kops_iam.domain.additional_policies.checks import MAX_UNKNOWN_NAMES, Checks
from kops_iam.domain.additional_policies.text import NON_ASCII, describe_char, quote, shorten
from kops_iam.domain.catalogue import has_wildcard, matches
from kops_iam.domain.guardrail import disallowed, escalations, explain

#: Longest action (or pattern) looked at; the longest real IAM action has 71 characters.
MAX_ACTION_LENGTH: Final = 128

_SERVICE: Final = re.compile(r"[a-z0-9-]+")
_ACTION_NAME: Final = re.compile(r"[a-z0-9*?-]+")
_INVISIBLE: Final = dict.fromkeys(map(ord, "\u00ad\u200b\u200c\u200d\u2060\ufeff"))
#: Common look-alikes of ASCII letters (NFKC folds full-width and styled forms on top).
_CONFUSABLES: Final = str.maketrans(
    "аеорсухіјѕԁԛԝАВЕКМНОРСТХІЈЅοανιΑΒΕΖΗΙΚΜΝΟΡΤΥΧ",  # noqa: RUF001 - look-alikes on purpose
    "aeopcyxijsdqwABEKMHOPCTXIJSoaviABEZHIKMNOPTYX",
)


def check_actions(checks: Checks, value: Any, path: str, *, allow: bool, negated: bool) -> None:
    """Check an ``Action`` (or ``NotAction``) value, and the guardrail on ``Allow``."""
    strings = []
    for item_path, action in checks.string_list(value, path, "actions"):
        strings.append(action)
        check_action(checks, action, item_path)
        if allow and not negated:
            covered = escalations((action,), not_action=False, catalogue=checks.catalogue)
            blocked = disallowed(covered, checks.allowed)
            if blocked:
                checks.error(
                    item_path, explain(shorten(action), blocked, checks.approval), "escalation"
                )
    if allow and negated:
        covered = escalations(strings, not_action=True, catalogue=checks.catalogue)
        blocked = disallowed(covered, checks.allowed)
        if blocked:
            checks.error(
                path,
                explain(
                    "an Allow statement with NotAction (it allows every action not listed)",
                    blocked,
                    checks.approval,
                ),
                "escalation",
            )


def check_action(checks: Checks, action: str, path: str) -> None:
    """Check one action name or pattern against IAM's grammar and the catalogue."""
    if len(action) > MAX_ACTION_LENGTH:
        checks.error(
            path,
            f"{quote(action)} is longer than any IAM action ({len(action)} characters; "
            f"at most {MAX_ACTION_LENGTH})",
        )
        return
    if NON_ASCII.search(action):
        checks.error(path, lookalike(checks, action))
        return
    if checks.text(action, path):
        return
    if action == "*":
        return
    if action != action.strip():
        checks.error(path, f"{quote(action)} has leading or trailing whitespace")
        return
    service, sep, name = action.lower().partition(":")
    if not sep or not name or ":" in name or not _ACTION_NAME.fullmatch(name):
        checks.error(
            path,
            f"{quote(action)} is not an IAM action: write service:ActionName "
            "(e.g. ec2:DescribeInstances, wildcards * and ? allowed in the name) or *",
        )
        return
    if has_wildcard(service):
        checks.error(
            path,
            f"{quote(action)}: wildcards are not allowed in the service prefix; write * alone "
            "for every action of every service",
        )
        return
    if not _SERVICE.fullmatch(service):
        close = checks.suggest(service, checks.catalogue.services)
        hint = f"; did you mean {close!r}?" if close else ""
        checks.error(
            path,
            f"{quote(action)}: {service!r} is not an IAM service prefix (letters, digits "
            f"and -){hint}",
        )
        return
    catalogue = checks.catalogue
    if not catalogue.has_service(service) and service not in checks.known_services:
        _unknown_service(checks, action, service, path)
        return
    if has_wildcard(name):
        if not catalogue.expand(action) and not _matches_known(checks, action):
            _unknown(
                checks,
                path,
                action,
                service,
                f"{quote(action)} matches no action of IAM service {service!r}",
            )
        return
    if catalogue.canonical(action) is not None or action.lower() in checks.known_actions:
        return
    if not _within_budget(checks, action, path):
        return
    near = catalogue.near_actions(action)
    if near:
        declare = checks.approval.known_action.format(action=action)
        checks.error(
            path,
            f"{quote(action)} is not an action of IAM service {service!r}; did you mean "
            f"{_either(near)}? ({catalogue.describe()}; if AWS added {action} since, "
            f"an operator can declare it known with {declare})",
        )
        return
    _unknown(
        checks,
        path,
        action,
        service,
        f"{quote(action)} is not an action of IAM service {service!r}",
    )


def _unknown_service(checks: Checks, action: str, service: str, path: str) -> None:
    """An action of a service the catalogue does not know: retired, a typo, or newer."""
    catalogue = checks.catalogue
    retired = catalogue.retired_service(service)
    if retired is not None:
        what = (
            f"{quote(action)}: service {service!r} ({retired.name}) is retired: "
            f"{retired.note} ({catalogue.describe()}); it grants nothing"
        )
        if checks.unknown_actions == "error":
            checks.error(
                path,
                f"{what}; remove it (this deployment refuses actions its catalogue does not "
                f"list: {checks.approval.refuse_unknown})",
            )
        else:
            checks.warn(path, f"{what}; IAM accepts it, and it can be removed")
        return
    if not _within_budget(checks, service, path):
        return
    near = catalogue.near_services(service)
    name = action.partition(":")[2]
    # Prefer the services that have the action (ec3:DescribeInstances: ec2, not ecr, ecs).
    near = tuple(known for known in near if catalogue.expand(f"{known}:{name}")) or near
    if near:
        example = checks.approval.known_action.format(action=f"{service}:ActionName")
        checks.error(
            path,
            f"{quote(action)}: unknown IAM service {service!r}; did you mean {_either(near)}? "
            f"({catalogue.describe()}; if AWS launched {service!r} since, an operator can "
            f"declare its actions known with {example})",
        )
        return
    _unknown(checks, path, action, service, f"{quote(action)}: unknown IAM service {service!r}")


def _unknown(checks: Checks, path: str, action: str, service: str, what: str) -> None:
    """A name the catalogue does not list and that is no near-misspelling: per the operator,
    a warning (IAM accepts it: newer actions work, mistaken ones grant nothing) or an error."""
    catalogue = checks.catalogue
    example = action if not has_wildcard(action) else f"{service}:ActionName"
    declare = checks.approval.known_action.format(action=example)
    if checks.unknown_actions == "error":
        checks.error(
            path,
            f"{what} in {catalogue.describe()}, and this deployment refuses actions "
            f"its catalogue does not list ({checks.approval.refuse_unknown}); if AWS added it "
            f"since, an operator can declare it known with {declare}, or upgrade kops-iam "
            "for a newer catalogue",
        )
        return
    checks.warn(
        path,
        f"{what} in {catalogue.describe()}; accepted, as IAM accepts it: an action AWS "
        "added since works, a mistaken one grants nothing. Upgrade kops-iam to check it "
        f"against a newer catalogue; an operator can declare it known with {declare}",
    )


def _matches_known(checks: Checks, pattern: str) -> bool:
    """Whether a pattern matches an action the operator declared known."""
    return any(matches(pattern, known) for known in checks.known_actions)


def _within_budget(checks: Checks, name: str, path: str) -> bool:
    """Count a distinct unknown name; past :data:`MAX_UNKNOWN_NAMES` it is an error."""
    lowered = name.lower()
    if lowered in checks.unknown_names:
        return True
    if len(checks.unknown_names) >= MAX_UNKNOWN_NAMES:
        checks.error(
            path,
            f"{quote(name)} is not in {checks.catalogue.describe()}, and this value already "
            f"names {MAX_UNKNOWN_NAMES} others it does not list, more than a role's inline "
            "policies (10,240 characters) can hold; kops-iam refuses the rest",
        )
        return False
    checks.unknown_names.add(lowered)
    return True


def _either(names: tuple[str, ...]) -> str:
    """``'a'``, ``'a' or 'b'``, ``'a', 'b' or 'c'`` (at most three)."""
    quoted = [repr(name) for name in names[:3]]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def lookalike(checks: Checks, action: str) -> str:
    """The message for an action with non-ASCII characters, naming them and the fix."""
    chars = sorted(set(NON_ASCII.findall(action)), key=action.index)
    described = ", ".join(describe_char(char) for char in chars[:3])
    fixed = unicodedata.normalize("NFKC", action.translate(_INVISIBLE).translate(_CONFUSABLES))
    hint = ""
    catalogue = checks.catalogue
    if fixed != action and fixed.isascii() and (fixed == "*" or catalogue.expand(fixed)):
        expanded = catalogue.canonical(fixed) or fixed
        hint = f"; did you mean {expanded!r}?"
    noun = "character" if len(chars) == 1 else "characters"
    return (
        f"{quote(action)} contains non-ASCII {noun} {described}, which may look like "
        f"ASCII but is not; IAM action names are plain ASCII{hint}"
    )
