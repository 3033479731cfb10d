"""Errors and warnings that name the field they are about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Final


@dataclass(frozen=True, order=True)
class Issue:
    """One finding about a spec: the field path and the reason.

    Parameters
    ----------
    path
        Dotted field path with list indexes, e.g. ``spec.additionalPolicies.node[1].Action[0]``.
        An empty path means the document as a whole.
    message
        Why the field is wrong, in words a user can act on.
    code
        What kind of finding it is, for machines (``kops-iam validate --json``): one of
        :data:`CODES`, or the error type pydantic names for a field of the wrong shape
        (``missing``, ``extra_forbidden``, ``string_type``, ...). Not part of equality.
    """

    path: str
    message: str
    code: str = field(default="spec", compare=False)

    def under(self, base: str) -> Issue:
        """The same finding with its path under ``base`` (``documents[1]``, ``spec``)."""
        return replace(self, path=join_path(base, self.path) if self.path else base)

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


#: The codes kops-iam gives its own findings (besides pydantic's error types).
CODES: Final[dict[str, str]] = {
    "parse": "the file cannot be read as a spec: size, encoding, YAML/JSON syntax, tags, "
    "duplicate keys, nesting, aliases",
    "documents": "the file's documents: kinds, API versions, InstanceGroups, one Cluster",
    "spec": "a field of the Cluster spec (names, network, labels, etcd, stores, "
    "externalPolicies, ...)",
    "policy": "an additionalPolicies value: its JSON, statements, actions, resources, conditions",
    "escalation": "an action the privilege-escalation guardrail refuses unless the operator "
    "allows it",
    "policy-size": "a role's inline policies over IAM's 10,240-character limit",
    "lookup": "something render needs given by hand (account id, hosted zone, state store, "
    "KMS alias)",
    "name-collision": "two clusters whose kops role names coincide",
}


def with_code(issues: Iterable[Issue], code: str) -> list[Issue]:
    """``issues`` with ``code``."""
    return [replace(issue, code=code) for issue in issues]


class SpecInvalid(Exception):
    """A spec that cannot be applied; carries every error found, not just the first."""

    def __init__(self, errors: Iterable[Issue], warnings: Iterable[Issue] = ()) -> None:
        self.errors: tuple[Issue, ...] = tuple(errors)
        self.warnings: tuple[Issue, ...] = tuple(warnings)
        super().__init__("; ".join(str(e) for e in self.errors) or "invalid spec")


def join_path(base: str, *parts: str | int) -> str:
    """Extend a field path: ``join_path("spec", "subnets", 0)`` is ``"spec.subnets[0]"``."""
    path = base
    for part in parts:
        if isinstance(part, int):
            path = f"{path}[{part}]"
        else:
            path = f"{path}.{part}" if path else part
    return path
