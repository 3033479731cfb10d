"""Safe parsing of a cluster spec file (YAML or JSON) into its top-level mapping.

Safe by construction, whatever the bytes hold:

* a size cap checked before anything is decoded or parsed;
* UTF-8 only (a UTF-8 byte order mark is accepted), NUL bytes rejected as binary;
* YAML is only composed into a node graph (libyaml's C parser when available), never handed
  to a constructor that knows tags: one iterative walk over the graph checks every tag
  against the plain YAML types, rejects duplicate keys, bounds the nesting depth and the
  size the aliases expand to (memoized, so a "billion laughs" bomb costs linear time), and
  builds the Python values itself;
* JSON (first non-blank character ``{``) goes through :mod:`json` with duplicate keys and
  non-standard constants rejected and the nesting depth checked before decoding.

Every failure becomes :class:`kops_iam.domain.errors.SpecInvalid`; no parser exception escapes.
Fields are not interpreted here: that is the spec module's job.
"""

from __future__ import annotations

import collections
import functools
import itertools
import json
import re
from collections.abc import Callable
from typing import Any, Final, NoReturn

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver, Resolver
from yaml.scanner import Scanner

from kops_iam.domain.errors import Issue, SpecInvalid, join_path, with_code

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "MAX_DOCUMENTS",
    "MAX_SPEC_BYTES",
    "parse_document",
    "parse_documents",
]

MAX_SPEC_BYTES: Final = 1024 * 1024
"""Largest spec file accepted, in bytes (1 MiB)."""

MAX_DEPTH: Final = 64
"""Deepest nesting of mappings/lists accepted (a kops spec needs fewer than 10)."""

MAX_ALIAS_NODES: Final = 100_000
"""Most nodes (keys, values, items) a YAML document may hold once every alias is expanded."""

MAX_DOCUMENTS: Final = 1000
"""Most documents one file may hold (a Cluster and its InstanceGroups need far fewer)."""

_MAX_REPORTED: Final = 50  # cap on collected tag/duplicate-key issues in one file
_MAX_NUMBER_CHARS: Final = 64  # longest int/float text built (no big-number arithmetic)

_PREFIX: Final = "tag:yaml.org,2002:"
_STR: Final = _PREFIX + "str"
_INT: Final = _PREFIX + "int"
_FLOAT: Final = _PREFIX + "float"
_BOOL: Final = _PREFIX + "bool"
_NULL: Final = _PREFIX + "null"
_MERGE: Final = _PREFIX + "merge"
_SEQ: Final = _PREFIX + "seq"
_MAP: Final = _PREFIX + "map"
_CORE_TAGS: Final = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _MERGE, _SEQ, _MAP})
_NOT_IMPLICIT: Final = frozenset({_PREFIX + "timestamp", _PREFIX + "value"})

_BOM: Final = b"\xef\xbb\xbf"
_LEADING_BLANKS: Final = re.compile(r"[ \t\r\n]*")
# A JSON string literal (unrolled loop: linear, no backtracking) or a bracket.
_JSON_TOKEN: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


# --------------------------------------------------------------------------- YAML machinery


# Implicit (untagged plain scalar) resolution as PyYAML's safe loader does it, except that
# timestamps and the "=" value key stay strings, as in the YAML 1.2 core schema: the values
# built are then always str, int, float, bool, None, list or dict.
_IMPLICIT: Final[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
    first: [(tag, regexp) for tag, regexp in pairs if tag not in _NOT_IMPLICIT]
    for first, pairs in Resolver.yaml_implicit_resolvers.items()
    if first is not None
}


class _CoreResolver(BaseResolver):
    """Resolver for plain YAML types only, with no path resolvers (so a lean ``resolve``)."""

    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if kind is ScalarNode:
            if implicit[0]:  # a plain (unquoted) scalar: its text decides its type
                return _plain_tag_cached(value) if len(value) <= 64 else _plain_tag(value)
            return _STR
        return _SEQ if kind is SequenceNode else _MAP


def _plain_tag(value: str) -> str:
    for tag, regexp in _IMPLICIT.get(value[:1], ()):
        if regexp.match(value):
            return tag
    return _STR


# Plain scalars repeat across specs ("name", "aws", "true", ...): a small bounded cache of
# short texts saves about a tenth of the parse time.
_plain_tag_cached: Final = functools.lru_cache(maxsize=4096)(_plain_tag)


class _PyComposer(Reader, Scanner, Parser, Composer, _CoreResolver):
    """Pure-Python reader, scanner, parser and composer: a node graph, no construction."""

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


_Composer = Callable[[str], Any]
_COMPOSERS: dict[str, _Composer] = {"python": _PyComposer}

if yaml.__with_libyaml__:  # pragma: no branch - the wheels carry libyaml
    from yaml._yaml import CParser

    class _CComposer(CParser, _CoreResolver):
        """libyaml's C parser and composer with the plain-type resolver."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _CoreResolver.__init__(self)

    _COMPOSERS["libyaml"] = _CComposer

YAML_BACKEND: str = "libyaml" if "libyaml" in _COMPOSERS else "python"
"""Which YAML composer :func:`parse_document` uses ("libyaml", else "python")."""

_SCALARS: Final = SafeConstructor()
_BOOLS: Final[dict[str, bool]] = SafeConstructor.bool_values


class _Bad(Exception):
    """A scalar that cannot be built (a foreign tag or a malformed explicitly-typed value)."""


def _scalar(node: ScalarNode) -> Any:
    """Build a scalar's value; only the plain YAML types are known."""
    tag = node.tag
    if tag in (_STR, _MERGE):  # "<<" outside a key position is just text
        return node.value
    if tag == _NULL:
        return None
    text = node.value
    if tag in (_INT, _FLOAT) and len(text) > _MAX_NUMBER_CHARS:
        # Big-number arithmetic (YAML 1.1 base-60 "1:2:3...") would cost quadratic time.
        raise _Bad(
            f"number {_clip(text)} is longer than {_MAX_NUMBER_CHARS} characters{_at(node)}; "
            "quote it if it is text"
        )
    try:
        if tag == _INT:
            return _SCALARS.construct_yaml_int(node)
        if tag == _FLOAT:
            return _SCALARS.construct_yaml_float(node)
        if tag == _BOOL:
            return _BOOLS[text.lower()]
    except (ValueError, IndexError, KeyError) as exc:
        raise _Bad(f"{_clip(text)} is not a valid {_short(tag)} value{_at(node)}") from exc
    raise _Bad(_tag_problem(tag, node))


def _clip(text: str, limit: int = 40) -> str:
    """``repr`` of a user's text, cut short for a message."""
    return repr(text if len(text) <= limit else text[:limit] + "...")


def _short(tag: str) -> str:
    return "!!" + tag[len(_PREFIX) :] if tag.startswith(_PREFIX) else tag


def _line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def _at(node: Node) -> str:
    return f" (line {_line(node)})"


def _duplicate(node: Node, key_node: ScalarNode, key: Any) -> str:
    """Message for a key seen twice in one mapping (equal values, e.g. ``1`` and ``0x1``)."""
    first = key_node
    for candidate, _ in node.value:
        if candidate.__class__ is ScalarNode and candidate.tag != _MERGE:
            try:
                if _scalar(candidate) == key:
                    first = candidate
                    break
            except _Bad:
                continue
    where = f", first at line {_line(first)}" if first is not key_node else ""
    return f"duplicate key {_clip(key_node.value)}{_at(key_node)}{where}"


def _tag_problem(tag: str, node: Node) -> str:
    if tag in _CORE_TAGS:
        return f"tag {_short(tag)!r} cannot be used on {_kind(node)}{_at(node)}"
    return (
        f"tag {_clip(_short(tag))} is not allowed{_at(node)}; "
        "only plain YAML types (string, number, boolean, null, list, mapping) are"
    )


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    return "a list" if isinstance(node, SequenceNode) else "a scalar"


class _Paths:
    """Field paths of nodes, for error messages only (indexed on first use, then cheap)."""

    def __init__(self, root: Node) -> None:
        self._root = root
        self._parents: dict[int, tuple[Node, str | int]] | None = None

    def _index(self) -> dict[int, tuple[Node, str | int]]:
        # Breadth first, so a node reachable through aliases gets its shortest path.
        parents: dict[int, tuple[Node, str | int]] = {}
        queue: collections.deque[Node] = collections.deque([self._root])
        seen = {id(self._root)}
        while queue:
            node = queue.popleft()
            children: list[tuple[Node, str | int]]
            if isinstance(node, MappingNode):
                children = [
                    (value, key.value if isinstance(key, ScalarNode) else "?")
                    for key, value in node.value
                ]
            elif isinstance(node, SequenceNode):
                children = [(item, index) for index, item in enumerate(node.value)]
            else:
                continue
            for child, part in children:
                if id(child) not in seen:
                    seen.add(id(child))
                    parents[id(child)] = (node, part)
                    queue.append(child)
        return parents

    def of(self, node: Node) -> str:
        if self._parents is None:
            self._parents = self._index()
        parts: list[str | int] = []
        while id(node) in self._parents:
            node, part = self._parents[id(node)]
            parts.append(part)
        return join_path("", *reversed(parts))


def _build(
    root: MappingNode,
    *,
    max_depth: int,
    max_nodes: int,
    scope: str = "the document",
    limit: int | None = None,
) -> tuple[Any, int]:
    """Check and build the node graph in one iterative post-order walk.

    Each collection node is visited once (memo by identity); its expanded size (nodes once
    every alias is expanded) and depth are computed from its children's, so aliases cost
    nothing extra to measure and a cycle (an alias inside its own anchor) is seen as such.
    """
    done: dict[int, tuple[Any, int, int]] = {}
    active: set[int] = set()
    paths = _Paths(root)
    issues: list[tuple[int, Issue]] = []  # (line, issue): reported in document order

    def fatal(path: str, message: str) -> NoReturn:
        raise SpecInvalid([*(issue for _, issue in sorted(issues)), Issue(path, message)])

    def note(node: Node, message: str, key: str | None = None, at: Node | None = None) -> None:
        if len(issues) < _MAX_REPORTED:
            path = paths.of(node)
            line = _line(at or node)
            issues.append((line, Issue(path if key is None else join_path(path, key), message)))

    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        nid = id(node)
        is_map = node.__class__ is MappingNode
        if not children_done:
            if nid in done:
                continue
            if nid in active:
                fatal(paths.of(node), f"recursive alias{_at(node)}: a node contains itself")
            active.add(nid)
            stack.append((node, True))
            if is_map:
                for key_node, value_node in node.value:
                    if value_node.__class__ is not ScalarNode and id(value_node) not in done:
                        stack.append((value_node, False))
                    if key_node.__class__ is not ScalarNode and id(key_node) not in done:
                        stack.append((key_node, False))
            else:
                for item_node in node.value:
                    if item_node.__class__ is not ScalarNode and id(item_node) not in done:
                        stack.append((item_node, False))
            continue
        active.discard(nid)

        size = 1
        depth = 0
        value: Any
        if is_map:
            if node.tag != _MAP:
                note(node, _tag_problem(node.tag, node))
            value = {}
            merges: list[Node] = []
            for key_node, value_node in node.value:
                if key_node.__class__ is not ScalarNode:
                    note(
                        node,
                        f"a mapping key{_at(key_node)} is {_kind(key_node)}; keys must be scalars",
                        at=key_node,
                    )
                    continue
                try:
                    key = key_node.value if key_node.tag == _STR else _scalar(key_node)
                except _Bad as exc:
                    note(node, str(exc), at=key_node)
                    continue
                if value_node.__class__ is ScalarNode:
                    try:
                        item = value_node.value if value_node.tag == _STR else _scalar(value_node)
                    except _Bad as exc:
                        note(value_node, str(exc))
                        item = None
                    size += 2
                else:
                    item, child_size, child_depth = done[id(value_node)]
                    size += 1 + child_size
                    if child_depth > depth:
                        depth = child_depth
                if key_node.tag == _MERGE and key == "<<":
                    if merges:
                        note(node, f"duplicate merge key '<<'{_at(key_node)}", "<<", key_node)
                    merges.append(value_node)
                    continue
                if key in value:
                    if len(issues) < _MAX_REPORTED:  # finding the first one costs a scan
                        note(node, _duplicate(node, key_node, key), key_node.value, key_node)
                    continue
                value[key] = item
            if merges:
                value = _merge(node, merges[0], done, value, note)
        else:
            if node.tag != _SEQ:
                note(node, _tag_problem(node.tag, node))
            value = []
            for item_node in node.value:
                if item_node.__class__ is ScalarNode:
                    try:
                        value.append(
                            item_node.value if item_node.tag == _STR else _scalar(item_node)
                        )
                    except _Bad as exc:
                        note(item_node, str(exc))
                        value.append(None)
                    size += 1
                else:
                    item, child_size, child_depth = done[id(item_node)]
                    value.append(item)
                    size += child_size
                    if child_depth > depth:
                        depth = child_depth
        depth += 1
        if size > max_nodes:
            fatal(
                "",
                f"{scope} expands to more than {limit or max_nodes:,} nodes once aliases are "
                f"followed (at line {_line(node)}); a spec is far smaller, this looks like "
                "a YAML alias bomb",
            )
        if depth > max_depth:
            fatal("", f"nesting deeper than {max_depth} levels (at line {_line(node)})")
        done[nid] = (value, size, depth)

    if issues:
        raise SpecInvalid(issue for _, issue in sorted(issues))
    value, size, _ = done[id(root)]
    return value, size


def _merge(
    node: Node,
    source: Node,
    done: dict[int, tuple[Any, int, int]],
    explicit: dict[Any, Any],
    note: Callable[[Node, str], None],
) -> dict[Any, Any]:
    """Apply a ``<<`` merge key: merged entries first, explicit keys win (earlier sources win)."""
    sources = source.value if isinstance(source, SequenceNode) else [source]
    if not all(isinstance(s, MappingNode) for s in sources):
        note(node, f"the merge key '<<'{_at(source)} takes a mapping or a list of mappings")
        return explicit
    merged: dict[Any, Any] = {}
    for mapping in reversed(sources):
        merged.update(done[id(mapping)][0])
    merged.update(explicit)
    return merged


def _yaml_error(exc: yaml.YAMLError) -> Issue:
    """A readable message, with line and column, for any PyYAML/libyaml error."""
    if isinstance(exc, yaml.reader.ReaderError):
        return Issue(
            "",
            f"unacceptable character U+{exc.character:04X} at offset {exc.position}: {exc.reason}",
        )
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "malformed YAML"
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        if "nesting depth" in problem:
            return Issue("", f"nesting deeper than {MAX_DEPTH} levels{where}")
        if exc.context == "expected a single document in the stream":
            return Issue(
                "",
                f"a second YAML document starts{where}; a spec file holds exactly one document",
            )
        context = ""
        if exc.context and exc.context_mark is not None and exc.context_mark is not mark:
            context = f" ({exc.context} at line {exc.context_mark.line + 1})"
        elif exc.context:
            context = f" ({exc.context})"
        return Issue("", f"invalid YAML{where}: {problem}{context}")
    return Issue("", f"invalid YAML: {exc}")


def _parse_yaml(text: str, max_depth: int, max_nodes: int, backend: str) -> Any:
    composer = None
    try:
        composer = _COMPOSERS[backend](text)  # the pure reader already checks characters
        root = composer.get_single_node()
    except yaml.YAMLError as exc:
        raise SpecInvalid([_yaml_error(exc)]) from None
    except RecursionError:
        raise SpecInvalid([Issue("", f"nesting deeper than {max_depth} levels")]) from None
    finally:
        if composer is not None:
            composer.dispose()
    if root is None:
        raise SpecInvalid([Issue("", "the file holds no document (it is empty or only comments)")])
    if not isinstance(root, MappingNode):
        raise SpecInvalid(
            [Issue("", f"the top level must be a mapping of fields, found {_kind(root)}")]
        )
    return _build(root, max_depth=max_depth, max_nodes=max_nodes)[0]


# --------------------------------------------------------------------------- JSON


def _line_col(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}"


def check_json_depth(text: str, start: int = 0, max_depth: int = MAX_DEPTH, path: str = "") -> None:
    """Reject JSON nesting past ``max_depth`` before :mod:`json` recurses into it.

    Linear in the text. Also used for JSON held in string fields (``additionalPolicies``).

    Raises
    ------
    SpecInvalid
        With one issue at ``path`` naming the line and column where the limit is passed.
    """
    if text.count("[", start) + text.count("{", start) <= max_depth:
        return
    depth = 0
    for match in _JSON_TOKEN.finditer(text, start):
        char = text[match.start()]
        if char == "{" or char == "[":
            depth += 1
            if depth > max_depth:
                where = _line_col(text, match.start())
                raise SpecInvalid(
                    [Issue(path, f"nesting deeper than {max_depth} levels at {where}")]
                )
        elif char == "}" or char == "]":
            depth -= 1


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not valid JSON")


def _parse_json(text: str, start: int, max_depth: int) -> dict[str, Any]:
    check_json_depth(text, start, max_depth)
    duplicates: list[tuple[dict[str, Any], list[str]]] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(pairs)
        if len(obj) != len(pairs) and len(duplicates) < _MAX_REPORTED:
            counts = collections.Counter(key for key, _ in pairs)
            duplicates.append((obj, [key for key, count in counts.items() if count > 1]))
        return obj

    try:
        doc = json.loads(text, object_pairs_hook=pairs_hook, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise SpecInvalid(
            [
                Issue(
                    "",
                    f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg} "
                    "(a file starting with '{' is read as JSON)",
                )
            ]
        ) from None
    except RecursionError:
        raise SpecInvalid([Issue("", f"nesting deeper than {max_depth} levels")]) from None
    except ValueError as exc:  # NaN/Infinity, integers past Python's digit limit
        raise SpecInvalid([Issue("", f"invalid JSON: {exc}")]) from None
    if duplicates:
        found = (
            Issue(join_path(_json_path(doc, obj), key), f"duplicate key {_clip(key)}")
            for obj, keys in duplicates
            for key in keys
        )
        raise SpecInvalid(itertools.islice(found, _MAX_REPORTED))
    assert isinstance(doc, dict)  # the text starts with "{" and parsed
    return doc


def _json_path(root: Any, target: dict[str, Any]) -> str:
    """Field path of the JSON object ``target`` inside ``root`` (error reporting only)."""
    stack: list[tuple[Any, str]] = [(root, "")]
    while stack:
        node, path = stack.pop()
        if node is target:
            return path
        if isinstance(node, dict):
            stack.extend((v, join_path(path, k)) for k, v in node.items())
        elif isinstance(node, list):
            stack.extend((v, join_path(path, i)) for i, v in enumerate(node))
    return ""


# --------------------------------------------------------------------------- entry point


def _decode(data: bytes | str, max_bytes: int) -> str:
    """Check size and encoding; return the text without a byte order mark."""
    if isinstance(data, str):
        size = len(data) if len(data) * 4 <= max_bytes else _utf8_size(data)
        text = data
    else:
        size = len(data)
    if size > max_bytes:
        raise SpecInvalid(
            [Issue("", f"the file is {size:,} bytes, over the limit of {max_bytes:,} bytes")]
        )
    if isinstance(data, str):
        nul = text.find("\x00")
        if nul >= 0:
            where = _line_col(text, nul)
            raise SpecInvalid([Issue("", f"binary content: NUL character at {where}")])
        return text[1:] if text.startswith("\ufeff") else text
    nul = data.find(b"\x00")
    if nul >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise SpecInvalid(
            [
                Issue(
                    "",
                    f"binary content: NUL byte at byte offset {nul} (line {line}); "
                    "a spec must be UTF-8 text",
                )
            ]
        )
    bom = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[bom:].decode("utf-8") if bom else data.decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = exc.start + bom
        line = data.count(b"\n", 0, offset) + 1
        raise SpecInvalid(
            [
                Issue(
                    "",
                    f"not UTF-8 text: invalid byte 0x{data[offset]:02x} at byte offset {offset} "
                    f"(line {line})",
                )
            ]
        ) from None


def _utf8_size(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def parse_document(data: bytes | str, *, max_bytes: int = MAX_SPEC_BYTES) -> dict[str, Any]:
    """Parse one cluster spec file, YAML or JSON, into its top-level mapping.

    Parameters
    ----------
    data
        The file's bytes (UTF-8, optionally with a byte order mark) or already-decoded text.
    max_bytes
        Size cap, checked before anything is decoded or parsed (UTF-8 size for ``str``).

    Returns
    -------
    dict[str, Any]
        The top-level mapping. Values are only ``dict``, ``list``, ``str``, ``int``,
        ``float``, ``bool`` and ``None`` (YAML timestamps stay strings). Nodes a YAML alias
        refers to are shared, not copied; treat the result as read-only.

    Raises
    ------
    SpecInvalid
        With one :class:`~kops_iam.domain.errors.Issue` per problem: path ``""`` for the document as
        a whole (size, encoding, syntax with line and column, empty, not a mapping, several
        documents, too deep, alias bomb) or the field path of a duplicate key or a forbidden
        tag. Input starting with ``{`` is parsed as JSON, anything else as YAML.

    Notes
    -----
    Bounds: :data:`MAX_DEPTH` nesting levels, :data:`MAX_ALIAS_NODES` nodes once YAML aliases
    are expanded, 64-character numbers, at most 50 tag/duplicate-key issues reported.
    """
    text = _decode(data, max_bytes)
    blanks = _LEADING_BLANKS.match(text)
    start = blanks.end() if blanks else 0
    if text.startswith("{", start):
        return _parse_json(text, start, MAX_DEPTH)
    try:
        doc: dict[Any, Any] = _parse_yaml(text, MAX_DEPTH, MAX_ALIAS_NODES, YAML_BACKEND)
    except UnicodeError as exc:  # lone surrogates in a str the C parser must encode
        raise SpecInvalid([Issue("", f"not valid Unicode text: {exc}")]) from None
    bad_keys = [key for key in doc if not isinstance(key, str)][:_MAX_REPORTED]
    if bad_keys:
        raise SpecInvalid(
            Issue("", f"top-level key {key!r} must be a string (quote it)") for key in bad_keys
        )
    return doc


# --------------------------------------------------------------------------- several documents

#: ``(path, document)``: where a document's issues are reported, and its top-level mapping.
Parsed = tuple[str, dict[str, Any]]


def parse_documents(
    data: bytes | str, *, max_bytes: int = MAX_SPEC_BYTES, path: str = ""
) -> list[Parsed]:
    """Parse a file of one or more documents (YAML ``---`` separated, or one JSON object).

    Every limit of :func:`parse_document` applies to the *whole file*: the size cap, UTF-8,
    the plain YAML types, duplicate keys, the nesting depth, and one budget of
    :data:`MAX_ALIAS_NODES` expanded nodes shared by all its documents; at most
    :data:`MAX_DOCUMENTS` documents. Empty documents (a stray ``---``) are skipped.

    Parameters
    ----------
    data
        The file's bytes or text.
    max_bytes
        Size cap of the whole file.
    path
        Where the file's issues are reported (e.g. ``instancegroup/nodes``); ``""`` for a file.

    Returns
    -------
    list of (path, document)
        Each non-empty document with the path its issues are reported at: ``path`` itself
        when the file holds one document, else ``documents[<index>]`` under it (the index
        counts every document of the stream, from 0).

    Raises
    ------
    SpecInvalid
        With every problem found, each at its document's path (issues about the file as a
        whole, such as syntax errors with their line, at ``path``).
    """
    text = _decode(data, max_bytes)
    blanks = _LEADING_BLANKS.match(text)
    start = blanks.end() if blanks else 0
    try:
        if text.startswith("{", start):
            return [(path, _parse_json(text, start, MAX_DEPTH))]
        return _parse_yaml_stream(text, path, YAML_BACKEND)
    except SpecInvalid as exc:
        raise SpecInvalid(with_code(_under(path, exc.errors), "parse")) from None
    except UnicodeError as exc:  # lone surrogates in a str the C parser must encode
        raise SpecInvalid([Issue(path, f"not valid Unicode text: {exc}", "parse")]) from None


def _under(base: str, issues: tuple[Issue, ...]) -> list[Issue]:
    if not base:
        return list(issues)
    return [issue.under(base) for issue in issues]


def _parse_yaml_stream(text: str, path: str, backend: str) -> list[Parsed]:
    composer = None
    roots: list[Node | None] = []
    try:
        composer = _COMPOSERS[backend](text)
        while composer.check_node():
            if len(roots) >= MAX_DOCUMENTS:
                raise SpecInvalid([Issue("", f"more than {MAX_DOCUMENTS:,} documents in one file")])
            node = composer.get_node()
            empty = isinstance(node, ScalarNode) and node.tag == _NULL  # a stray "---"
            roots.append(None if empty else node)
    except yaml.YAMLError as exc:
        raise SpecInvalid([_yaml_error(exc)]) from None
    except RecursionError:
        raise SpecInvalid([Issue("", f"nesting deeper than {MAX_DEPTH} levels")]) from None
    finally:
        if composer is not None:
            composer.dispose()
    several = sum(root is not None for root in roots) > 1
    budget = MAX_ALIAS_NODES
    documents: list[Parsed] = []
    issues: list[Issue] = []
    for index, root in enumerate(roots):
        if root is None:
            continue
        where = f"documents[{index}]" if several else ""
        if not isinstance(root, MappingNode):
            issues.append(
                Issue(where, f"the top level must be a mapping of fields, found {_kind(root)}")
            )
            continue
        try:
            value, size = _build(
                root,
                max_depth=MAX_DEPTH,
                max_nodes=budget,
                scope="the file" if several else "the document",
                limit=MAX_ALIAS_NODES,
            )
        except SpecInvalid as exc:
            issues.extend(_under(where, exc.errors))
            if any(not issue.path for issue in exc.errors):
                break  # too deep or an alias bomb: stop reading the file
            continue
        budget -= size
        bad_keys = [key for key in value if not isinstance(key, str)][:_MAX_REPORTED]
        issues.extend(
            Issue(where, f"top-level key {key!r} must be a string (quote it)") for key in bad_keys
        )
        if not bad_keys:
            documents.append((join_path(path, where) if where else path, value))
    if issues:
        raise SpecInvalid(issues[: _MAX_REPORTED * 2])
    if not documents:
        raise SpecInvalid([Issue("", "the file holds no document (it is empty or only comments)")])
    return documents
