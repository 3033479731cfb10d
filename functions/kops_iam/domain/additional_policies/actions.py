"""``Action`` / ``NotAction``: names checked against the catalogue, and the guardrail."""

from __future__ import annotations

import re
import unicodedata
from typing import Any, Final

from kops_iam.domain.additional_policies.checks import Checks
from kops_iam.domain.additional_policies.text import NON_ASCII, describe_char, quote, shorten
from kops_iam.domain.catalogue import has_wildcard
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
                checks.error(item_path, explain(shorten(action), blocked, checks.approval))
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
    catalogue = checks.catalogue
    if not _SERVICE.fullmatch(service) or not catalogue.has_service(service):
        close = checks.suggest(service, catalogue.services)
        hint = f"; did you mean {close!r}?" if close else ""
        checks.error(path, f"{quote(action)}: unknown IAM service {service!r}{hint}")
        return
    if has_wildcard(name):
        if not catalogue.expand(action):
            checks.error(path, f"{quote(action)} matches no action of IAM service {service!r}")
        return
    if catalogue.canonical(action) is None:
        known = tuple(f"{service}:{n}" for n in catalogue.actions(service))
        close = checks.suggest(action, known)
        hint = f"; did you mean {close!r}?" if close else ""
        checks.error(path, f"{quote(action)} is not an action of IAM service {service!r}{hint}")


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
