"""Safe parsing of spec files: kops_iam.domain.parsing.parse_document."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_iam.domain import parsing
from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.parsing import MAX_DEPTH, MAX_SPEC_BYTES, parse_document

KOPS_SPEC = """\
apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata:
  creationTimestamp: 2016-06-27T14:23:34Z
  name: prod.example.com
spec:
  api:
    loadBalancer:
      type: Public
  authorization:
    rbac: {}
  channel: stable
  cloudProvider: aws
  cloudLabels:
    team: platform
    cost-center: "1234"
  configBase: s3://kops-state/prod.example.com
  etcdClusters:
  - etcdMembers:
    - instanceGroup: master-eu-central-1a
      name: a
      encryptedVolume: true
      kmsKeyId: arn:aws:kms:eu-central-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab
    name: main
  - etcdMembers:
    - instanceGroup: master-eu-central-1a
      name: a
      encryptedVolume: true
      kmsKeyId: 1234abcd-12ab-34cd-56ef-1234567890ab
    name: events
  iam:
    allowContainerRegistry: true
    legacy: false
  kubernetesApiAccess:
  - 0.0.0.0/0
  kubernetesVersion: 1.8.4
  masterPublicName: api.prod.example.com
  networkCIDR: 10.100.0.0/16
  networkID: vpc-a80734c1
  networking:
    kubenet: {}
  nonMasqueradeCIDR: 100.64.0.0/10
  sshAccess:
  - 0.0.0.0/0
  subnets:
  - cidr: 10.100.32.0/19
    name: eu-central-1a
    type: Public
    zone: eu-central-1a
  - cidr: 10.100.64.0/19
    name: eu-central-1b
    type: Public
    zone: eu-central-1b
  topology:
    masters: public
    nodes: public
  additionalPolicies:
    node: |
      [
        {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]},
        {"Effect": "Allow", "Action": ["es:*"], "Resource": ["*"]}
      ]
"""

BACKENDS = ["python", *(["libyaml"] if yaml.__with_libyaml__ else [])]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Run a YAML test with libyaml's C parser and with the pure-Python fallback."""
    monkeypatch.setattr(parsing, "YAML_BACKEND", request.param)
    yield request.param


def rejection(data: bytes | str, **kwargs: Any) -> list[tuple[str, str]]:
    """The (path, message) pairs parse_document raises for ``data``; fails if it parses."""
    with pytest.raises(SpecInvalid) as caught:
        parse_document(data, **kwargs)
    assert caught.value.errors, "SpecInvalid must carry at least one issue"
    return [(issue.path, issue.message) for issue in caught.value.errors]


def only_message(data: bytes | str, **kwargs: Any) -> str:
    """The single whole-document message for ``data``."""
    issues = rejection(data, **kwargs)
    assert len(issues) == 1, issues
    path, message = issues[0]
    assert path == ""
    return message


def nested_yaml(levels: int) -> str:
    """A document whose top-level mapping holds ``levels - 1`` nested flow lists."""
    return "a: " + "[" * (levels - 1) + "]" * (levels - 1) + "\n"


def nested_json(levels: int) -> str:
    return '{"a": ' + "[" * (levels - 1) + "]" * (levels - 1) + "}"


# --------------------------------------------------------------------------- valid input


def test_yaml_spec_parses_to_the_same_values_as_pyyaml_safe_load(backend: str) -> None:
    # Given a ~60-line kops spec
    # When it is parsed
    doc = parse_document(KOPS_SPEC.encode())
    # Then it equals PyYAML's safe loader, except that timestamps stay strings
    expected = yaml.safe_load(KOPS_SPEC)
    expected["metadata"]["creationTimestamp"] = "2016-06-27T14:23:34Z"
    assert doc == expected
    assert doc["spec"]["etcdClusters"][0]["etcdMembers"][0]["encryptedVolume"] is True
    assert doc["spec"]["cloudLabels"]["cost-center"] == "1234"
    assert json.loads(doc["spec"]["additionalPolicies"]["node"])[1]["Action"] == ["es:*"]


def test_json_spec_parses_to_the_same_document_as_its_yaml() -> None:
    # Given the same spec written as JSON (leading blank lines before the "{")
    yaml_doc = parse_document(KOPS_SPEC)
    data = "\n  \n" + json.dumps(yaml_doc, indent=2)
    # When it is parsed
    # Then the documents are equal
    assert parse_document(data.encode()) == yaml_doc


def test_text_and_bytes_give_the_same_document() -> None:
    assert parse_document(KOPS_SPEC) == parse_document(KOPS_SPEC.encode())


@pytest.mark.parametrize("data", [b"\xef\xbb\xbfa: 1\n", "\ufeffa: 1\n", b'\xef\xbb\xbf{"a": 1}'])
def test_a_utf8_byte_order_mark_is_accepted(data: bytes | str) -> None:
    assert parse_document(data) == {"a": 1}


def test_non_ascii_utf8_text_is_accepted(backend: str) -> None:
    assert parse_document("team: Zürich-Ωmega\n".encode()) == {"team": "Zürich-Ωmega"}


def test_plain_scalars_resolve_as_the_safe_loader_does_but_timestamps_stay_text(
    backend: str,
) -> None:
    # Given plain scalars of every implicit type, a timestamp, a date and "="
    data = "a: yes\nb: 0x10\nc: 1.5\nd: ~\ne: 2016-06-27\nf: 2016-06-27T14:23:34Z\ng: =\nh: '1'\n"
    # When parsed
    doc = parse_document(data)
    # Then only str, int, float, bool and None come out
    assert doc == {
        "a": True,
        "b": 16,
        "c": 1.5,
        "d": None,
        "e": "2016-06-27",
        "f": "2016-06-27T14:23:34Z",
        "g": "=",
        "h": "1",
    }


def test_explicit_core_tags_are_honoured(backend: str) -> None:
    data = "a: !!str 10\nb: !!int '7'\nc: !!float '2'\nd: !!bool 'on'\ne: !!null x\n"
    assert parse_document(data) == {"a": "10", "b": 7, "c": 2.0, "d": True, "e": None}


def test_merge_keys_apply_and_explicit_keys_win(backend: str) -> None:
    # Given a mapping merging two anchors and overriding one key
    data = "x: &x {a: 1, b: 1}\ny: &y {b: 2, c: 2}\nz:\n  <<: [*x, *y]\n  c: 3\n"
    # When parsed
    doc = parse_document(data)
    # Then earlier merge sources win over later ones, explicit keys over both
    assert doc["z"] == {"a": 1, "b": 1, "c": 3}


def test_one_document_with_explicit_markers_is_accepted(backend: str) -> None:
    assert parse_document("---\na: 1\n...\n") == {"a": 1}


def test_a_spec_exactly_at_the_size_limit_is_accepted() -> None:
    data = b"a: 1\n#" + b"x" * (MAX_SPEC_BYTES - 6)
    assert len(data) == MAX_SPEC_BYTES
    assert parse_document(data) == {"a": 1}


def test_nesting_at_the_limit_is_accepted(backend: str) -> None:
    doc = parse_document(nested_yaml(MAX_DEPTH))
    depth, node = 1, doc["a"]
    while isinstance(node, list):
        depth, node = depth + 1, node[0] if node else None
    assert depth == MAX_DEPTH
    assert parse_document(nested_json(MAX_DEPTH))["a"] == doc["a"]


def test_aliases_below_the_expansion_limit_are_shared_values(backend: str) -> None:
    data = "base: &b {cidr: 10.0.0.0/16}\none: *b\ntwo: *b\n"
    doc = parse_document(data)
    assert doc["one"] == doc["two"] == {"cidr": "10.0.0.0/16"}


# --------------------------------------------------------------------------- size and encoding


def test_a_two_mib_file_is_rejected_before_parsing_with_its_size_and_the_limit() -> None:
    # Given 2 MiB that would not even parse
    data = b"{" * (2 * 1024 * 1024)
    # When parsed
    message = only_message(data)
    # Then the size and the limit are named, not a syntax error
    assert message == "the file is 2,097,152 bytes, over the limit of 1,048,576 bytes"


def test_the_size_limit_is_a_parameter_and_counts_utf8_bytes_of_text() -> None:
    # Given 20 characters of text that are 30 UTF-8 bytes
    text = "a: " + "é" * 13 + "\n" * 4
    assert len(text) == 20 and len(text.encode()) == 33
    # Then a 32-byte limit rejects it and a 33-byte limit does not
    assert "33 bytes, over the limit of 32 bytes" in only_message(text, max_bytes=32)
    assert parse_document(text, max_bytes=33) == {"a": "é" * 13}


def test_binary_content_is_rejected_with_the_offset_of_the_nul_byte() -> None:
    message = only_message(b"a: 1\nb: \x00\x01\x02")
    assert message.startswith("binary content: NUL byte at byte offset 8 (line 2)")


def test_a_nul_character_in_text_is_rejected_too() -> None:
    assert "NUL character at line 1, column 4" in only_message("a: \x00")


def test_non_utf8_bytes_are_rejected_with_the_byte_and_its_offset() -> None:
    # Given Latin-1 text
    message = only_message("a: 1\nteam: Zürich\n".encode("latin-1"))
    # Then the offending byte and offset are named
    assert message == "not UTF-8 text: invalid byte 0xfc at byte offset 12 (line 2)"


def test_the_offset_of_a_bad_byte_counts_the_byte_order_mark() -> None:
    assert "invalid byte 0xff at byte offset 6" in only_message(b"\xef\xbb\xbfa: \xff")


def test_utf16_is_not_accepted() -> None:
    assert "NUL byte" in only_message("a: 1\n".encode("utf-16"))


def test_control_characters_are_rejected(backend: str) -> None:
    assert "unacceptable character U+0007" in only_message("a: b\x07\n")


# --------------------------------------------------------------------------- document shape


@pytest.mark.parametrize("data", ["", "   \n\n", "# only a comment\n", "---\n"])
def test_an_empty_document_is_rejected(backend: str, data: str) -> None:
    message = only_message(data)
    assert "no document" in message or "found a scalar" in message


@pytest.mark.parametrize(
    ("data", "found"),
    [("- a\n- b\n", "a list"), ("just text\n", "a scalar"), ("[1, 2]", "a list")],
)
def test_a_top_level_that_is_not_a_mapping_is_rejected(backend: str, data: str, found: str) -> None:
    assert only_message(data) == f"the top level must be a mapping of fields, found {found}"


def test_several_documents_in_one_file_are_rejected_naming_the_second(backend: str) -> None:
    message = only_message("a: 1\n---\nb: 2\n")
    assert message.startswith("a second YAML document starts at line 2")


def test_yaml_syntax_errors_give_line_and_column(backend: str) -> None:
    message = only_message("metadata:\n  name: x\n  bad: a: b\n")
    assert message.startswith("invalid YAML at line 3, column 9: mapping values are not allowed")


def test_json_syntax_errors_give_line_and_column() -> None:
    message = only_message('{"a": 1,\n  "b": }')
    assert message == (
        "invalid JSON at line 2, column 8: Expecting value "
        "(a file starting with '{' is read as JSON)"
    )


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_outside_the_standard_are_rejected(constant: str) -> None:
    assert only_message(f'{{"a": {constant}}}') == f"invalid JSON: {constant} is not valid JSON"


def test_a_non_string_top_level_key_is_rejected(backend: str) -> None:
    assert only_message("1: a\nb: 2\n") == "top-level key 1 must be a string (quote it)"


def test_a_collection_as_mapping_key_is_rejected(backend: str) -> None:
    issues = rejection("spec:\n  labels: {[a, b]: 1}\n")
    assert issues == [("spec.labels", "a mapping key (line 2) is a list; keys must be scalars")]


def test_overlong_numbers_are_rejected_instead_of_built(backend: str) -> None:
    # Given a YAML 1.1 base-60 integer with 20,000 fields (quadratic to build)
    data = "a: 1" + ":5" * 20_000 + "\n"
    # Then it is rejected as too long, naming its field
    [(path, message)] = rejection(data)
    assert path == "a"
    assert "is longer than 64 characters" in message


@pytest.mark.parametrize("text", ["!!int abc", "!!float ''", "!!bool maybe"])
def test_malformed_explicitly_typed_scalars_are_rejected(backend: str, text: str) -> None:
    [(path, message)] = rejection(f"spec:\n  x: {text}\n")
    assert path == "spec.x"
    assert "is not a valid !!" in message and "(line 2)" in message


# --------------------------------------------------------------------------- tags


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("!!python/object/apply:os.system ['touch /tmp/pwned']", "!!python/object/apply:os.system"),
        (
            "!!python/object:collections.OrderedDict {a: 1}",
            "!!python/object:collections.OrderedDict",
        ),
        ("!!python/name:os.system", "!!python/name:os.system"),
        ("!!binary aGVsbG8=", "!!binary"),
        ("!!set {a, b}", "!!set"),
        ("!!omap [a: 1]", "!!omap"),
        ("!!timestamp 2016-06-27", "!!timestamp"),
        ("!Ref MyRole", "!Ref"),
    ],
)
def test_tags_beyond_the_plain_types_are_rejected_naming_tag_line_and_field(
    backend: str, value: str, tag: str
) -> None:
    # Given a tag in a nested field on line 3
    data = f"metadata:\n  name: x\n  labels: {value}\n"
    # When parsed
    [(path, message)] = rejection(data)
    # Then the field, the tag and the line are named
    assert path == "metadata.labels"
    assert message.startswith(f"tag '{tag}' is not allowed (line 3)")


def test_a_custom_tag_declared_by_a_directive_is_rejected(backend: str) -> None:
    data = "%TAG !e! tag:example.com,2000:\n---\na: !e!thing x\n"
    [(path, message)] = rejection(data)
    assert (path, message.split(";")[0]) == (
        "a",
        "tag 'tag:example.com,2000:thing' is not allowed (line 3)",
    )


def test_a_core_tag_on_the_wrong_kind_of_node_is_rejected(backend: str) -> None:
    assert rejection("a: !!str [x]\nb: !!map x\n") == [
        ("a", "tag '!!str' cannot be used on a list (line 1)"),
        ("b", "tag '!!map' cannot be used on a scalar (line 2)"),
    ]


def test_a_tagged_key_is_rejected_at_its_mapping(backend: str) -> None:
    [(path, message)] = rejection("spec:\n  !!python/name:os.system : 1\n")
    assert path == "spec"
    assert "'!!python/name:os.system' is not allowed (line 2)" in message


# --------------------------------------------------------------------------- duplicate keys


def test_a_duplicate_key_is_rejected_with_its_path_and_both_lines(backend: str) -> None:
    # Given a subnet with "cidr" twice (lines 5 and 7)
    data = (
        "spec:\n"
        "  subnets:\n"
        "  - name: a\n"
        "  - name: b\n"
        "    cidr: 10.0.0.0/24\n"
        "    zone: eu-west-1a\n"
        "    cidr: 10.0.1.0/24\n"
    )
    # Then the issue points at spec.subnets[1].cidr and both lines
    assert rejection(data) == [
        ("spec.subnets[1].cidr", "duplicate key 'cidr' (line 7), first at line 5"),
    ]


def test_every_duplicate_key_is_reported_at_once(backend: str) -> None:
    data = "kind: Cluster\nkind: Cluster\nmetadata:\n  name: a\n  name: b\n"
    assert [path for path, _ in rejection(data)] == ["kind", "metadata.name"]


def test_keys_equal_as_values_are_duplicates_even_if_written_differently(backend: str) -> None:
    [(path, message)] = rejection("ports:\n  1: a\n  0x1: b\n")
    assert path == "ports.0x1"
    assert message == "duplicate key '0x1' (line 3), first at line 2"


def test_a_second_merge_key_is_a_duplicate(backend: str) -> None:
    data = "x: &x {a: 1}\ny:\n  <<: *x\n  <<: *x\n"
    assert rejection(data) == [("y.<<", "duplicate merge key '<<' (line 4)")]


def test_json_duplicate_keys_are_rejected_with_their_paths() -> None:
    data = '{"spec": {"subnets": [{"cidr": "a", "cidr": "b"}]}, "kind": 1, "kind": 2}'
    assert sorted(rejection(data)) == [
        ("kind", "duplicate key 'kind'"),
        ("spec.subnets[0].cidr", "duplicate key 'cidr'"),
    ]


def test_the_number_of_reported_issues_is_capped(backend: str) -> None:
    data = "a: 1\n" * 1000
    assert len(rejection(data)) == 50


# --------------------------------------------------------------------------- resource bounds


BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def test_a_billion_laughs_bomb_is_rejected_without_expanding_it(backend: str) -> None:
    # Given the classic bomb (9**9 strings once expanded)
    # When parsed
    message = only_message(BILLION_LAUGHS)
    # Then it is rejected by the expansion bound (reaching this line proves it ended)
    assert message.startswith(
        "the document expands to more than 100,000 nodes once aliases are followed (at line 6)"
    )


def test_a_mapping_bomb_through_merge_keys_is_rejected(backend: str) -> None:
    lines = ["l0: &l0 {a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8}"]
    for level in range(1, 8):
        refs = ", ".join(f"k{i}: *l{level - 1}" for i in range(8))
        lines.append(f"l{level}: &l{level} {{{refs}}}")
    assert "expands to more than 100,000 nodes" in only_message("\n".join(lines))


def test_a_recursive_alias_is_rejected(backend: str) -> None:
    assert rejection("spec:\n  loop: &x [a, *x]\n") == [
        ("spec.loop", "recursive alias (line 2): a node contains itself")
    ]


@pytest.mark.parametrize(
    "data",
    [
        pytest.param("a: " + "[" * 10_000 + "]" * 10_000, id="flow"),
        pytest.param("a:\n" + "- " * 10_000 + "x\n", id="block"),
        pytest.param(
            "".join(" " * i + "k:\n" for i in range(1400)) + " " * 1400 + "x\n", id="indent"
        ),
        pytest.param(nested_yaml(MAX_DEPTH + 1), id="one-past-the-limit"),
    ],
)
def test_deep_yaml_nesting_is_rejected_without_recursion_error(backend: str, data: str) -> None:
    assert only_message(data).startswith(f"nesting deeper than {MAX_DEPTH} levels")


def test_deep_nesting_built_from_aliases_is_rejected(backend: str) -> None:
    lines = ["a0: &a0 [x]"] + [f"a{i}: &a{i} [*a{i - 1}]" for i in range(1, 70)]
    assert only_message("\n".join(lines)).startswith(f"nesting deeper than {MAX_DEPTH} levels")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        (nested_json(10_000), "line 1, column 70"),
        ('{"a": "[[[[", "b":\n' + "[" * 100 + "]" * 100 + "}", "line 2, column 64"),
        (nested_json(MAX_DEPTH + 1), "line 1, column 70"),
    ],
)
def test_deep_json_nesting_is_rejected_before_decoding(data: str, where: str) -> None:
    assert only_message(data) == f"nesting deeper than {MAX_DEPTH} levels at {where}"


# --------------------------------------------------------------------------- properties


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**18), max_value=10**18)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
documents = st.dictionaries(st.text(max_size=10), json_values, min_size=1, max_size=5)


@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes_give_a_mapping_or_spec_invalid(data: bytes) -> None:
    # Given any bytes at all
    # When parsed
    try:
        doc = parse_document(data)
    except SpecInvalid as exc:
        # Then a failure is SpecInvalid with readable issues, never another exception
        assert exc.errors and all(isinstance(issue.message, str) for issue in exc.errors)
    else:
        assert isinstance(doc, dict)


YAMLISH = st.lists(
    st.sampled_from(
        [
            "a",
            "b",
            ":",
            " ",
            "\n",
            "  ",
            "- ",
            "[",
            "]",
            "{",
            "}",
            ",",
            "&x ",
            "*x",
            "<<",
            "!!python/object:os.system ",
            "!!int ",
            "!t ",
            "---\n",
            '"',
            "'",
            "#",
            "0x1",
            "1:2",
            "? ",
            "|",
            ">",
            "~",
            "\t",
            "%TAG ! tag:x:\n",
            "\\u00",
            "\xa0",
            "é",
        ]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=YAMLISH, as_bytes=st.booleans())
def test_yaml_like_noise_gives_a_mapping_or_spec_invalid(text: str, as_bytes: bool) -> None:
    try:
        doc = parse_document(text.encode() if as_bytes else text)
    except SpecInvalid as exc:
        assert exc.errors
    else:
        assert isinstance(doc, dict) and all(isinstance(k, str) for k in doc)


@settings(max_examples=100, deadline=None)
@given(doc=documents)
def test_documents_round_trip_through_yaml_and_json(doc: dict[str, Any]) -> None:
    # Given any JSON-like mapping, dumped as YAML and as JSON
    # When each is parsed
    # Then both give the mapping back
    assert parse_document(yaml.safe_dump(doc)) == doc
    assert parse_document(json.dumps(doc)) == doc


def test_special_floats_are_built(backend: str) -> None:
    doc = parse_document("a: .inf\nb: -1.5e+3\nc: .nan\n")
    assert doc["a"] == math.inf and doc["b"] == -1500.0 and math.isnan(doc["c"])
