"""The state one validation run shares: the document, the operator's options, the typed
fields, and every error and warning found so far (all are reported at once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from kops_iam.domain.errors import Issue
from kops_iam.domain.model import JSONDict
from kops_iam.domain.options import Options

#: ``(raw, path, *, partition, options, warnings) -> (statements, errors)``: the
#: additionalPolicies checker (it appends its warnings to ``warnings``).
StatementChecker = Callable[..., tuple[list[JSONDict], list[Issue]]]


class SpecChecks:
    """One validation run: collects every error and warning; the rule areas fill it.

    Parameters
    ----------
    document
        The parsed spec document.
    options
        The operator's options.
    check_statements
        The additionalPolicies checker (``None``: the default one).
    """

    def __init__(
        self,
        document: Mapping[str, Any],
        options: Options,
        check_statements: StatementChecker | None = None,
    ) -> None:
        self.doc = document
        self.options = options
        self.check_statements = check_statements
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        #: ``spec.*`` fields kops-iam uses, typed by :mod:`.shapes` (absent when invalid).
        self.fields: dict[str, Any] = {}

    def error(self, path: str, message: str) -> None:
        """Record an error at ``path``."""
        self.errors.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        """Record a warning at ``path``."""
        self.warnings.append(Issue(path, message))
