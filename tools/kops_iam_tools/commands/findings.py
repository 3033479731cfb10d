"""How every command reports findings (errors and warnings about a spec) and exit codes.

One contract for all commands (docs/cli.md has the table):

* **text** (the default): the command's result on stdout, nothing else; findings as
  ``FILE: PATH: MESSAGE`` lines (``FILE: warning: ...`` for warnings) on stderr.
* **JSON** (``--json``, ``validate --format json``): exactly one JSON document on stdout,
  whatever happened; findings are inside it, each with ``path``, ``message``, ``code`` and,
  where the file shows it, ``line`` and ``column`` (1-based, else ``null``).
* **GitHub** (``validate --format github``): one workflow command per finding on stdout,
  ``::error file=F,line=L,col=C,title=T::MESSAGE``, which GitHub Actions shows as an
  annotation at that line of the pull request.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any, Final, TextIO

from kops_iam.domain.errors import Issue
from kops_iam_tools.locate import Locator

#: Exit codes, the same in every command.
OK: Final = 0
FAILED: Final = 1  # invalid or rejected spec, AWS error, failed apply, apply declined
USAGE: Final = 2  # bad command line; apply without a terminal and without --yes
CHANGES: Final = 2  # plan --detailed-exitcode only: the plan has changes
INTERRUPTED: Final = 130  # Ctrl-C
PIPE_CLOSED: Final = 141  # the reader of stdout went away (128 + SIGPIPE)


def report_text(path: str, errors: Iterable[Issue], warnings: Iterable[object]) -> None:
    """Findings as text lines on stderr: errors first, then warnings."""
    for issue in errors:
        print(f"{path}: {issue}", file=sys.stderr)
    for warning in warnings:
        print(f"{path}: warning: {warning}", file=sys.stderr)


def issue_record(issue: Issue, locator: Locator | None) -> dict[str, Any]:
    """One finding as JSON: path, message, code, line and column (``null`` when unknown)."""
    mark = locator.find(issue) if locator is not None else None
    return {
        "path": issue.path,
        "message": issue.message,
        "code": issue.code,
        "line": mark.line if mark else None,
        "column": mark.column if mark else None,
    }


def file_record(
    path: str,
    errors: Iterable[Issue],
    warnings: Iterable[Issue],
    data: bytes | None,
    **extra: Any,
) -> dict[str, Any]:
    """One file's verdict as JSON: ``file``, ``ok``, ``errors``, ``warnings`` (and ``extra``)."""
    locator = Locator(data) if data is not None else None
    error_records = [issue_record(i, locator) for i in errors]
    return {
        "file": path,
        "ok": not error_records,
        **extra,
        "errors": error_records,
        "warnings": [issue_record(i, locator) for i in warnings],
    }


def github_annotations(record: dict[str, Any]) -> Iterator[str]:
    """GitHub Actions workflow commands for one :func:`file_record`."""
    for level, key in (("error", "errors"), ("warning", "warnings")):
        for finding in record[key]:
            properties = [f"file={_property(record['file'])}"]
            if finding["line"] is not None:
                properties.append(f"line={finding['line']}")
                if finding["column"] is not None:
                    properties.append(f"col={finding['column']}")
            properties.append(f"title={_property('kops-iam ' + finding['code'])}")
            text = f"{finding['path']}: {finding['message']}" if finding["path"] else ""
            yield f"::{level} {','.join(properties)}::{_data(text or finding['message'])}"


def _data(text: str) -> str:
    """Escape a workflow command's message (GitHub's toolkit: %, CR, LF)."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _property(text: str) -> str:
    """Escape a workflow command's property value (also ``:`` and ``,``)."""
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def dump(payload: Any, out: TextIO | None = None) -> None:
    """One JSON document on stdout (indented, newline-terminated)."""
    stream = out if out is not None else sys.stdout
    json.dump(payload, stream, indent=2, default=str)
    stream.write("\n")
