"""The state of one ``additionalPolicies`` value's checks: what the operator allows, the
catalogue, the errors and warnings found so far, the Sids seen, and the bounded budgets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Final

from kops_iam.domain.additional_policies.text import forbidden_char, kind
from kops_iam.domain.catalogue import ActionCatalogue
from kops_iam.domain.errors import Issue, join_path
from kops_iam.domain.options import Approval, UnknownActions

#: Most "did you mean" suggestions computed in one value (difflib costs a few ms each).
MAX_SUGGESTIONS: Final = 20
#: Most warnings reported for one value; the rest are counted in one last warning.
MAX_WARNINGS: Final = 20
#: Most distinct names unknown to the catalogue searched for look-alikes in one value. A
#: role's inline policies (10,240 characters) hold about 400 action names, so a real policy
#: never reaches it; past it, unknown names are refused (the work stays bounded).
MAX_UNKNOWN_NAMES: Final = 1000


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
    warnings
        Where warnings go (the caller's list).
    unknown_actions
        The operator's choice for actions the catalogue does not know (``warn``, ``error``).
    known_actions
        Actions the operator declared known although the catalogue is older (lower case).
    """

    def __init__(
        self,
        *,
        partition: str,
        allowed: frozenset[str],
        approval: Approval,
        catalogue: ActionCatalogue,
        errors: list[Issue],
        warnings: list[Issue] | None = None,
        unknown_actions: UnknownActions = "warn",
        known_actions: frozenset[str] = frozenset(),
    ) -> None:
        self.partition = partition
        self.allowed = allowed
        self.approval = approval
        self.catalogue = catalogue
        self.errors = errors
        self.warnings: list[Issue] = [] if warnings is None else warnings
        self.unknown_actions = unknown_actions
        self.known_actions = frozenset(action.lower() for action in known_actions)
        self.known_services = frozenset(action.partition(":")[0] for action in self.known_actions)
        self.sids: dict[str, str] = {}
        self.suggestions_left = MAX_SUGGESTIONS
        self.unknown_names: set[str] = set()
        self._warnings_left = MAX_WARNINGS
        self._warnings_held = 0

    def error(self, path: str, message: str, code: str = "policy") -> None:
        """Record one error at ``path``."""
        self.errors.append(Issue(path, message, code))

    def warn(self, path: str, message: str) -> None:
        """Record one warning at ``path`` (past :data:`MAX_WARNINGS`, only count it)."""
        if self._warnings_left > 0:
            self._warnings_left -= 1
            self.warnings.append(Issue(path, message, "policy"))
        else:
            self._warnings_held += 1

    def finish_warnings(self, path: str) -> None:
        """Say, at the value's ``path``, how many warnings were not listed."""
        if self._warnings_held:
            self.warnings.append(
                Issue(
                    path,
                    f"{self._warnings_held} more warnings like the {MAX_WARNINGS} above "
                    "are not listed",
                    "policy",
                )
            )
            self._warnings_held = 0

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
