"""Errors and warnings that name the field they are about."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


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
    """

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


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
