"""Golden file of the parser: what each odd, broken or hostile input reads as.

``tests/golden/parsing/<backend>.txt`` holds, for every case below and each YAML composer
(libyaml's, the one in use, and the pure-Python fallback), what
:func:`~kops_iam.domain.parsing.parse_document` and
:func:`~kops_iam.domain.parsing.parse_documents` (as a file, and as an instance group's
file under ``instancegroup/nodes``) make of it: the value read, or every error with its
field path, line and column. The messages are what a user reads when kops-iam refuses a
file, so they are pinned word for word; ``make golden`` rewrites the file after a change.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from support.golden import GOLDEN, check

from kops_iam.domain import parsing
from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.parsing import (
    MAX_ALIAS_NODES,
    MAX_DOCUMENTS,
    check_json_depth,
    parse_document,
    parse_documents,
)

OUT = GOLDEN / "parsing"
BACKENDS = ["python", *(["libyaml"] if yaml.__with_libyaml__ else [])]

#: An anchor chain whose expansion is ``nodes`` nodes, written in a few lines.
_CHAIN = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 4)
)

#: (name, input, max_bytes): each input as a file's bytes or as text.
CASES: list[tuple[str, bytes | str, int | None]] = [
    # -- size and encoding
    ("over the size cap", b"a: 1\nb: 2\n", 9),
    ("at the size cap", b"a: 1\nb: 2\n", 10),
    ("text over the cap counted in UTF-8 bytes", "k: " + "\u00e9" * 4, 10),
    ("text at the cap counted in UTF-8 bytes", "k: " + "\u00e9" * 3 + "\n", 10),
    ("short text under the cap", "k: v\n", 20),
    ("NUL byte", b"a: 1\nb: \x00\n", None),
    ("NUL byte first", b"\x00a: 1\n", None),
    ("two NUL bytes", b"a: 1\nb: \x00\n\nc: \x00\n", None),
    ("NUL byte after a first empty line", b"\nab\x00\n", None),
    ("NUL character first", "\x00a: 1\n", None),
    ("two NUL characters", "a: \x00\nb: \x00\n", None),
    ("NUL character in text", "a: 1\nbb: 2\n c\x00", None),
    ("NUL character before more lines", "a: 1\nbb\x00c\nd: 2\n", None),
    ("NUL character after a first empty line", "\nab\x00\ncd\n", None),
    ("not UTF-8", b"a: 1\nb: caf\xe9\n", None),
    ("not UTF-8 between empty lines", b"\n\xff\n\n\n", None),
    ("not UTF-8 after a byte order mark", b"\xef\xbb\xbfa: 1\nb: \xff\n", None),
    ("UTF-8 byte order mark", b"\xef\xbb\xbfa: 1\n", None),
    ("byte order mark in text", "\ufeffa: 1\n", None),
    ("byte order mark before JSON", b'\xef\xbb\xbf{"a": }', None),
    ("byte order mark before JSON text", '\ufeff{"a": }', None),
    ("lone surrogate", "a: \ud800\n", None),
    # -- YAML documents
    ("empty", b"", None),
    ("only comments", b"# nothing\n", None),
    ("a list at the top", b"- a\n- b\n", None),
    ("a scalar at the top", b"just text\n", None),
    ("stray separators around one document", b"---\n---\na: 1\n---\n", None),
    ("two documents", b"a: 1\n---\nb: 2\n", None),
    ("a list among documents", b"a: 1\n---\n- x\n---\nb: 2\n", None),
    ("a list, then a document with a bad tag", b"- x\n---\na: !!binary aGk=\n", None),
    ("a non-string top-level key", b"1: a\nb: 2\n", None),
    ("non-string top-level keys in a second document", b"a: 1\n---\n1: a\n2: b\n", None),
    # -- YAML syntax
    ("unclosed flow list", b"a: [1, 2\nb: 3\n", None),
    ("mapping value in a plain scalar", b"a: b: c\n", None),
    ("bad indentation", b"a:\n  b: 1\n c: 2\n", None),
    ("tab indentation", b"a:\n\tb: 1\n", None),
    ("control character", "a: \x07\n", None),
    ("an undefined alias", b"a: *nowhere\n", None),
    ("a duplicate anchor", b"&a a: &a b\n", None),
    ("an unterminated quoted scalar", b"a: 'x\n", None),
    # -- types and tags
    ("plain types", b"s: text\ni: 0x1F\nf: 1.5e3\nb: yes\nn: ~\nt: 2001-12-14\nq: '1'\n", None),
    ("a binary tag", b"a: !!binary aGVsbG8=\n", None),
    ("a custom tag", b"a: !custom x\n", None),
    ("a long custom tag", b"a: !" + b"t" * 60 + b" x\n", None),
    ("a core tag on the wrong node", b"a: !!str [1]\nb: !!map [2]\nc: !!seq {d: 3}\n", None),
    ("explicit types that do not parse", b"a: !!int abc\nb: !!float x\nc: !!bool maybe\n", None),
    ("an explicitly tagged key", b"!!int 1: a\n", None),
    ("a tagged list item", b"a: [!!binary aGk=, x]\n", None),
    ("a tagged key in a nested mapping", b"a:\n  !!binary aGk=: 1\n", None),
    ("a number of 65 digits", b"a: " + b"1" * 65 + b"\n", None),
    ("a number of 64 digits", b"a: " + b"1" * 64 + b"\n", None),
    ("a float of 65 characters", b"a: " + b"1" * 63 + b".5\n", None),
    ("a key of 40 characters twice", b"k" * 40 + b": 1\n" + b"k" * 40 + b": 2\n", None),
    ("a key of 41 characters twice", b"k" * 41 + b": 1\n" + b"k" * 41 + b": 2\n", None),
    ("a list as a key", b"? [a, b]\n: c\n", None),
    ("a bad tag inside a list key", b"? [!!binary aGk=]\n: v\n", None),
    ("a nested list as a key", b"? [[a]]\n: v\nb: !!binary aGk=\n", None),
    ("a tag problem before a list key", b"a: !!binary aGk=\n? [k]\n: v\n", None),
    ("a tag problem before a badly tagged key", b"a: !!binary aGk=\n!!int x: 1\n", None),
    ("a badly tagged key, then a bad tag", b"!!int x: 1\nb: !!binary aGk=\n", None),
    ("a duplicate key, then a bad tag", b"a: 1\na: 2\nb: !!binary aGk=\n", None),
    ("many bad tags", b"".join(b"k%d: !!binary aGk=\n" % i for i in range(60)), None),
    ("a mapping as a key", b"? {a: b}\n: c\n", None),
    # -- duplicate keys
    ("a duplicate key", b"a: 1\nb: 2\na: 3\n", None),
    ("a duplicate key in a nested list", b"x:\n- a: 1\n  a: 2\n", None),
    ("equal keys written differently", b"1: a\n0x1: b\n", None),
    ("equal keys after a bad key", b"c: 1\n!!int x: 0\n1: a\n0x1: b\n", None),
    ("a duplicate key in a merged mapping", b"b: &b {x: 1}\nc:\n  <<: *b\n  <<: *b\n", None),
    ("a duplicate merge key after a bad tag", b"<<: {a: 1}\nb: !!binary aGk=\n<<: {c: 1}\n", None),
    ("many duplicate keys", b"".join(b"k%d: 1\nk%d: 2\n" % (i, i) for i in range(60)), None),
    ("duplicate keys in two documents", b"a: 1\na: 2\n---\nb: 1\nb: 2\n---\nc: 3\n", None),
    (
        "many duplicate keys in three documents",
        b"---\n".join(b"".join(b"k%d: 1\nk%d: 2\n" % (i, i) for i in range(60)) for _ in range(3)),
        None,
    ),
    ("a merge key before a quoted '<<' twice", b"<<: {a: 1}\n'<<': 1\n'<<': 2\n", None),
    ("an explicit merge tag on a key", b"!!merge foo: 1\nfoo: 2\n", None),
    # -- merge keys and aliases
    ("a merge key", b"base: &b {x: 1, y: 1}\nc:\n  <<: *b\n  y: 2\n", None),
    (
        "a list of merge sources",
        b"p: &p {x: 1}\nq: &q {x: 2, z: 2}\nc:\n  <<: [*p, *q]\n  w: 3\n",
        None,
    ),
    ("a merge key on a scalar", b"s: &s x\nc:\n  <<: *s\n", None),
    ("a merge key on a list of scalars", b"c:\n  <<: [a, b]\n", None),
    ("a merge key as a value", b"a: <<\nb: [<<]\n", None),
    ("a quoted merge key", b"'<<': 1\n", None),
    ("an alias reused", b"a: &x {k: v}\nb: *x\nc: [*x, *x]\n", None),
    ("a recursive alias", b"a: &x [1, *x]\n", None),
    ("a recursive alias in a mapping", b"a: &m\n  b: *m\n", None),
    ("a document that contains itself", b"--- &r\na: *r\n", None),
    ("a bad tag under a list key", b"? [a]\n: [!!binary aGk=]\n", None),
    ("a bad tag after a scalar sibling", b"a: 1\nb:\n  c: !!binary aGk=\n", None),
    ("an alias chain under the budget", _CHAIN.encode(), None),
    (
        "an alias bomb",
        (_CHAIN + "a4: &a4 [" + ", ".join(["*a3"] * 10) + "]\nb: [*a4, *a4]\n").encode(),
        None,
    ),
    (
        "an alias budget shared by two documents",
        (
            _CHAIN
            + "b: [*a3, *a3, *a3, *a3, *a3, *a3]\n---\n"
            + _CHAIN
            + "b: [*a3, *a3, *a3, *a3, *a3, *a3]\n"
        ).encode(),
        None,
    ),
    # -- nesting
    ("64 levels of YAML", b"a: " + b"[" * 63 + b"]" * 63 + b"\n", None),
    ("65 levels of YAML", b"a: " + b"[" * 64 + b"]" * 64 + b"\n", None),
    ("deep YAML in a second document", b"a: 1\n---\nb: " + b"[" * 70 + b"]" * 70 + b"\n", None),
    ("deep YAML, then more documents", b"a: " + b"[" * 70 + b"]" * 70 + b"\n---\nb: 1\n", None),
    ("700 levels of YAML", b"a: " + b"[" * 700 + b"]" * 700 + b"\n", None),
    (
        "deep YAML through an alias",
        b"a: &d " + b"[" * 40 + b"]" * 40 + b"\nb: " + b"[" * 30 + b"*d" + b"]" * 30 + b"\n",
        None,
    ),
    # -- JSON
    ("JSON", b'  \n {"a": [1, 2.5, true, null], "b": {"c": "d"}}', None),
    ("JSON with a syntax error", b'{"a": 1,\n "b": }', None),
    ("JSON after blank lines, with a syntax error", b' \n\t{"a": 1,\n "b": }', None),
    (
        "JSON with 60 duplicate keys in one object",
        ("{" + ", ".join(f'"k{i}": 1, "k{i}": 2' for i in range(60)) + "}").encode(),
        None,
    ),
    ("JSON with NaN", b'{"a": NaN}', None),
    ("JSON with duplicate keys", b'{"a": 1, "a": 2, "b": {"c": 1, "c": 2, "d": 1, "d": 2}}', None),
    ("JSON with a duplicate key in a list", b'{"l": [{"x": 1}, {"y": 1, "y": 2}]}', None),
    ("JSON 64 levels deep", b'{"a": ' + b"[" * 63 + b"]" * 63 + b"}", None),
    ("JSON 65 levels deep", b'{"a":\n ' + b"[" * 64 + b"]" * 64 + b"}", None),
    ("JSON with brackets inside strings", b'{"a": "' + b"[{" * 40 + b'", "b": [[1]]}', None),
    ("JSON deep after closed brackets", b'{"a": [[]], "b": ' + b"[" * 64 + b"]" * 64 + b"}", None),
    ("JSON that is a list", b'[{"a": 1}]', None),
    (
        "JSON with 70 sibling objects",
        ("{" + ", ".join(f'"k{i}": {{}}' for i in range(70)) + "}").encode(),
        None,
    ),
    (
        "JSON 65 levels deep after a closed list",
        b'{"a": {"b": [], "c": ' + b"[" * 63 + b"]" * 63 + b"}}",
        None,
    ),
]


def _read(function: Any, data: bytes | str, max_bytes: int | None, **kwargs: Any) -> str:
    options = {} if max_bytes is None else {"max_bytes": max_bytes}
    try:
        value = function(data, **options, **kwargs)
    except SpecInvalid as exc:
        lines = [f"  ! {issue} [{issue.code}]" for issue in exc.errors]
        return "\n".join(lines) if lines else "  ! (no issue)"
    return "  = " + json.dumps(value, ensure_ascii=False)


def render() -> str:
    out = []
    for name, data, max_bytes in CASES:
        shown = repr(data if len(data) <= 120 else data[:120])
        out.append(f"## {name}\n{shown}{' ...' if len(data) > 120 else ''}")
        if max_bytes is not None:
            out.append(f"max_bytes={max_bytes}")
        out.append("parse_document:")
        out.append(_read(parse_document, data, max_bytes))
        out.append("parse_documents:")
        out.append(_read(parse_documents, data, max_bytes))
        out.append("parse_documents under instancegroup/nodes:")
        out.append(_read(parse_documents, data, max_bytes, path="instancegroup/nodes"))
        out.append("")
    return "\n".join(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_input_reads_as_its_golden_file(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parsing, "YAML_BACKEND", backend)
    check(OUT / f"{backend}.txt", render())


def test_a_file_holds_at_most_max_documents() -> None:
    # Given files of exactly MAX_DOCUMENTS documents and one more
    many = b"---\n".join(b"k%d: v\n" % i for i in range(MAX_DOCUMENTS))
    # When parsed, Then the first gives every document at its index, the second one error
    documents = parse_documents(many)
    assert len(documents) == MAX_DOCUMENTS
    assert documents[-1] == (f"documents[{MAX_DOCUMENTS - 1}]", {f"k{MAX_DOCUMENTS - 1}": "v"})
    try:
        parse_documents(many + b"---\nk: v\n", path="config")
    except SpecInvalid as exc:
        assert [str(e) for e in exc.errors] == ["config: more than 1,000 documents in one file"]
    else:
        raise AssertionError("1,001 documents were accepted")


#: JSON held in a string field (an additionalPolicies value): its depth is checked alone.
JSON_TEXTS = [
    "[" * 64 + "]" * 64,
    "[" * 65 + "]" * 65,
    "\n  " + "[" * 65,
    '["' + "[" * 70 + '"]',
    "[]" * 100,
    "[" + "{}, " * 70 + "{}]",
    '[{"a": [[]]}, ' + "[" * 62 + "]" * 62 + "]",
    "[[[]" + "[" * 63 + "]" * 63 + "]]",
]


def test_json_text_depth_is_checked_before_decoding() -> None:
    out = []
    for text in JSON_TEXTS:
        try:
            check_json_depth(text, path="spec.additionalPolicies.node")
        except SpecInvalid as exc:
            result = "; ".join(str(e) for e in exc.errors)
        else:
            result = "ok"
        out.append(f"{text[:80]!r}{' ...' if len(text) > 80 else ''}\n  {result}\n")
    check(OUT / "json-depth.txt", "".join(out))


def _nodes(extra: int) -> bytes:
    """A document of exactly 100,000 + ``extra`` nodes once aliases are expanded.

    Nodes are what :data:`MAX_ALIAS_NODES` counts: the document, every key, every value and
    every list item. ``b`` is a list of 100 items (1 key + 1 list + 100 items), ``c`` a list
    of 989 aliases to it (1 + 1 + 989 x 101), ``d`` a list of 2 + ``extra`` items, ``e`` and
    its text 2 more.
    """
    return (
        b"b: &b [" + b", ".join([b"x"] * 100) + b"]\n"
        b"c: [" + b", ".join([b"*b"] * 989) + b"]\n"
        b"d: [" + b", ".join([b"x"] * (2 + extra)) + b"]\n"
        b"e: x\n"
    )


def test_a_document_may_expand_to_exactly_max_alias_nodes() -> None:
    assert MAX_ALIAS_NODES == 1 + 102 + (2 + 989 * 101) + (2 + 2) + 2
    # Given a document of exactly MAX_ALIAS_NODES nodes, Then it is read, as one or in a file
    assert len(parse_document(_nodes(0))["c"]) == 989
    assert len(parse_documents(_nodes(0))[0][1]["d"]) == 2
    # And one node more is refused as an alias bomb
    for parse in (parse_document, parse_documents):
        try:
            parse(_nodes(1))
        except SpecInvalid as exc:
            assert [str(e) for e in exc.errors] == [
                "the document expands to more than 100,000 nodes once aliases are followed "
                "(at line 1); a spec is far smaller, this looks like a YAML alias bomb"
            ]
        else:
            raise AssertionError("one node over the budget was accepted")
