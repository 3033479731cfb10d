"""Where a finding is in its file: the line and column of a field path, from YAML node marks.

The domain reports every finding at a field path (``spec.additionalPolicies.node[0]``,
``documents[2].spec.role``), never at a line: the Lambda reads specs from S3, where lines
mean nothing. Editors and CI annotations want lines. :class:`Locator` composes the file
once with PyYAML's composer (nodes with their marks, nothing constructed: no tag is ever
resolved to an object) and walks a path down the node graph:

* a mapping key is matched against the longest key of the mapping that the path continues
  with (keys may hold dots: ``cloudLabels.kubernetes.io/role``), and the finding is at the
  key's mark (the field's own line, also for block values);
* ``[N]`` selects the N-th item of a sequence, at the item's mark;
* ``documents[N]`` first selects the N-th document of a multi-document file, as the
  domain counts them (every document of the stream, empty ones included);
* a path that goes on inside a literal block scalar (``node: |`` holding the JSON of
  ``additionalPolicies``, which is YAML too) goes on in the block's text, and the line and
  column are the file's;
* where the path leaves the file (a field that is missing, a path inside the JSON string of
  ``additionalPolicies``, ``roles.node``), the deepest field reached is the answer; when not
  even the first field is in the file, there is none.

Findings about the file as a whole (code ``parse``: syntax, encoding, duplicate keys, tags)
already name their line in the message: that line is used. JSON specs are YAML to the
composer, so they get lines too; a file the composer cannot read gets lines only from
messages.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from kops_iam.domain.errors import Issue

_INDEX: Final = re.compile(r"\[(\d+)\]")
_DOCUMENT: Final = re.compile(r"documents\[(\d+)\]")
_MESSAGE_LINE: Final = re.compile(r"\bline (\d+)(?:,? column (\d+))?")
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class Mark:
    """A place in a file: 1-based line, and 1-based column when known."""

    line: int
    column: int | None = None


class Locator:
    """Finds the line and column of findings in one spec file's text."""

    def __init__(self, data: bytes | str) -> None:
        self._roots: list[Node | None] = []
        self._several = False
        self._lines: list[str] = []
        try:
            text = data.decode("utf-8") if isinstance(data, bytes) else data
            text = text.removeprefix("\ufeff")
            self._lines = text.splitlines()
            roots = [_content(node) for node in yaml.compose_all(text, Loader=_Loader)]
        except (yaml.YAMLError, UnicodeError, RecursionError, ValueError):
            return  # unreadable: only the messages' own lines are known
        self._roots = roots
        self._several = sum(root is not None for root in roots) > 1

    def find(self, issue: Issue) -> Mark | None:
        """The mark of ``issue``: a line its message names (file-level findings), else the
        deepest field of its path found in the file, else ``None``."""
        if issue.code == "parse" or not issue.path:
            named = _MESSAGE_LINE.search(issue.message)
            if named is not None:
                column = int(named.group(2)) if named.group(2) else None
                return Mark(int(named.group(1)), column)
        return self.find_path(issue.path)

    def find_path(self, path: str) -> Mark | None:
        """The mark of the deepest field of ``path`` found in the file."""
        rest = path
        if self._several:
            document = _DOCUMENT.match(rest)
            if document is None:
                return None
            index = int(document.group(1))
            root = self._roots[index] if index < len(self._roots) else None
            rest = rest[document.end() :].removeprefix(".")
            found = _mark(root) if root is not None else None
        else:
            root = next((r for r in self._roots if r is not None), None)
            found = None
        node = root
        while node is not None and rest:
            if isinstance(node, SequenceNode):
                index_match = _INDEX.match(rest)
                if index_match is None or int(index_match.group(1)) >= len(node.value):
                    break
                node = node.value[int(index_match.group(1))]
                found = _mark(node)
                rest = rest[index_match.end() :].removeprefix(".")
            elif isinstance(node, MappingNode):
                entry = _longest_key(node, rest)
                if entry is None:
                    break
                key, node = entry
                found = _mark(key)
                rest = rest[len(key.value) :].removeprefix(".")
            elif isinstance(node, ScalarNode) and node.style == "|":
                return self._in_block(node, rest) or found
            else:
                break
        return found

    def _in_block(self, node: ScalarNode, rest: str) -> Mark | None:
        """The mark of ``rest`` inside the text of the literal block ``node`` (its lines
        are the file's, after the indicator line, indented alike)."""
        inner = Locator(node.value).find_path(rest)
        first = node.start_mark.line + 1  # 0-based index of the block's first line
        if inner is None or first >= len(self._lines):
            return None
        line = self._lines[first]
        indent = len(line) - len(line.lstrip(" "))
        column = None if inner.column is None else indent + inner.column
        return Mark(first + inner.line, column)


def _content(node: Node | None) -> Node | None:
    """A document's root, or ``None`` for an empty document (a stray ``---``)."""
    if isinstance(node, ScalarNode) and node.tag == "tag:yaml.org,2002:null":
        return None
    return node


def _longest_key(node: MappingNode, rest: str) -> tuple[ScalarNode, Node] | None:
    best: tuple[ScalarNode, Node] | None = None
    for key, value in node.value:
        if not isinstance(key, ScalarNode):
            continue
        name = key.value
        continues = rest == name or (rest.startswith(name) and rest[len(name)] in ".[")
        if continues and (best is None or len(name) > len(best[0].value)):
            best = (key, value)
    return best


def _mark(node: Node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)
