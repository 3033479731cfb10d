"""The state of one ``additionalPolicies`` value's checks: what the operator allows, the
catalogue, the errors found so far, the Sids seen, and the bounded suggestion budget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from kops_iam.domain.additional_policies.text import forbidden_char, kind
from kops_iam.domain.catalogue import ActionCatalogue
from kops_iam.domain.errors import Issue, join_path
from kops_iam.domain.options import Approval

#: Most "did you mean" suggestions computed in one value (difflib costs a few ms each).
MAX_SUGGESTIONS: Final = 20


class Checks:
    """Collects every error of one value; shared by the statement-part checkers.

    Parameters
    ----------
    partition
        The cluster's partition; ARNs must use it.
    allowed
        The operator's approved escalation actions.
    approval
        How a refusal tells its reader to approve.
    catalogue
        The IAM action catalogue.
    errors
        Where errors go (the caller's list).
    """

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
        """Record one error at ``path``."""
        self.errors.append(Issue(path, message))

    def text(self, text: str, path: str) -> bool:
        """Report characters IAM forbids in policy text; return whether there were any."""
        problem = forbidden_char(text)
        if problem is not None:
            self.error(path, problem)
        return problem is not None

    def string_list(self, value: Any, path: str, what: str) -> Iterator[tuple[str, str]]:
        """Yield (path, string) of a string-or-list value, reporting anything else."""
        if isinstance(value, str):
            yield path, value
            return
        if not isinstance(value, list):
            self.error(path, f"must be a string or a list of strings, found {kind(value)}")
            return
        if not value:
            self.error(path, f"must not be an empty list of {what}")
        for index, item in enumerate(value):
            item_path = join_path(path, index)
            if isinstance(item, str):
                yield item_path, item
            else:
                self.error(item_path, f"must be a string, found {kind(item)}")

    def suggest(self, word: str, candidates: tuple[str, ...]) -> str | None:
        """The candidate closest to ``word`` (case-insensitive), if one is close enough.

        At most :data:`MAX_SUGGESTIONS` are computed per value: the cost bound a hostile
        spec full of misspellings relies on.
        """
        if self.suggestions_left <= 0 or not candidates:
            return None
        self.suggestions_left -= 1
        import difflib  # error path only: keeps ~8 ms off the Lambda's import time

        lowered = {candidate.lower(): candidate for candidate in candidates}
        close = difflib.get_close_matches(word.lower(), lowered, n=1, cutoff=0.75)
        return lowered[close[0]] if close else None
