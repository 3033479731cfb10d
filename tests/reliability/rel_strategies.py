"""Hypothesis strategies for hostile cluster specs.

Structure-aware: every case starts from one of the valid samples in ``events/specs`` and
applies a few mutations that keep most of the document intact, so the fuzzer reaches deep
validation code instead of stopping at "not a mapping":

* drop a field, retype a field (any JSON/YAML value in its place), duplicate a key (emitted
  as real duplicate keys in the text, through the YAML or the JSON parser);
* inject ``additionalPolicies`` statements with random effects, actions (catalogue actions,
  privilege-escalation actions, wildcards covering them, look-alike Unicode, characters IAM
  forbids), resources, conditions, principals and unknown keys; repeat one statement up to
  thousands of times;
* rename the cluster, change labels and other strings with look-alikes and forbidden
  characters;
* serialize as YAML (block style, or flow style behind a comment so the YAML parser is
  used) or JSON, optionally with a BOM or in another encoding.

:func:`raw_inputs` adds unstructured bytes: random binary and byte-level mutations
(flips, insertions, deletions, truncations) of the valid samples.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

from kops_iam.domain.catalogue import default_catalogue
from kops_iam.domain.guardrail import ESCALATION_ACTIONS
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import parse_documents

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_FILES = sorted((ROOT / "events" / "specs").glob("*.yaml"))
SAMPLE_BYTES: dict[str, bytes] = {path.name: path.read_bytes() for path in SAMPLE_FILES}
#: Each sample's Cluster document (a sample may add its InstanceGroups after it).
SAMPLES: dict[str, dict[str, Any]] = {
    name: parse_documents(data)[0][1] for name, data in SAMPLE_BYTES.items()
}
ACCOUNT = "123456789012"
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/kops-boundary"

ESCALATIONS = sorted(ESCALATION_ACTIONS)
#: Wildcards that cover at least one escalation action.
ESCALATION_WILDCARDS = [
    "*",
    "*:*",
    "iam:*",
    "IAM:*",
    "iam:Put*",
    "iam:*Policy",
    "iam:Attach*",
    "iam:Create*",
    "iam:*Role*",
    "iam:Pass*",
    "iam:?assRole",
    "iam:Update*",
    "iam:Set*",
    "lambda:Update*",
    "lambda:*",
    "glue:*",
    "glue:Update*Endpoint",
    "i*:P*",
    "*:PassRole",
    "*Role",
]
_SERVICES = ("iam", "s3", "ec2", "sts", "kms", "lambda", "glue", "dynamodb", "ssm", "sqs")
_CATALOGUE = default_catalogue()
CATALOGUE_ACTIONS = [
    f"{service}:{name}" for service in _SERVICES for name in _CATALOGUE.actions(service)
]
HARMLESS_WILDCARDS = ["s3:Get*", "ec2:Describe*", "dynamodb:*", "es:*", "kms:Decrypt", "ssm:Get*"]

#: Look-alikes of ASCII letters (Cyrillic, Greek, full-width, Latin-1 and invisible characters).
LOOKALIKES: dict[str, list[str]] = {
    "a": ["\u0430", "\u03b1", "\uff41", "\u00e0"],
    "e": ["\u0435", "\u00e9", "\uff45"],
    "i": ["\u0456", "\u03b9", "\u0131", "\u00ed", "\uff49"],
    "o": ["\u043e", "\u03bf", "\u00f3", "0"],
    "s": ["\u0455", "\uff53"],
    "P": ["\u0420", "\u03a1", "\uff30"],
    "R": ["\u0280"],
    "l": ["I", "1", "\u04cf", "\u2113"],
    "c": ["\u0441", "\u00e7"],
    ":": ["\uff1a", "\u02d0", "\u0589"],
    "*": ["\u2217", "\uff0a"],
}
INVISIBLES = ["\u200b", "\u200d", "\u2060", "\ufeff", "\u00ad"]
#: Characters IAM forbids in policy text (anything but tab/LF/CR/U+0020-U+00FF): control
#: characters, line separators, the first character past Latin-1, astral symbols.
FORBIDDEN_CHARS = [
    "\x00",
    "\x01",
    "\x07",
    "\x1b",
    "\u0100",
    "\u2028",
    "\u2029",
    "\ufffd",
    "\U0001f600",
    "\U000e0041",
]


def lookalike(text: str) -> st.SearchStrategy[str]:
    """``text`` with one or more characters swapped for look-alikes or invisibles added."""

    @st.composite
    def build(draw: st.DrawFn) -> str:
        chars = list(text)
        for _ in range(draw(st.integers(1, 2))):
            positions = [i for i, c in enumerate(chars) if c in LOOKALIKES]
            if positions and draw(st.booleans()):
                index = draw(st.sampled_from(positions))
                chars[index] = draw(st.sampled_from(LOOKALIKES[chars[index]]))
            else:
                index = draw(st.integers(0, len(chars)))
                chars.insert(index, draw(st.sampled_from(INVISIBLES)))
        return "".join(chars)

    return build()


#: Characters at the edges of what IAM allows (DEL, NEL, NBSP, y-diaeresis): accepted.
EDGE_ALLOWED_CHARS = ["\x7f", "\x85", "\xa0", "\xff", "\t"]


def with_forbidden(text: str) -> st.SearchStrategy[str]:
    """``text`` with a character IAM forbids (or one at the edge of the allowed set) inserted."""
    return st.builds(
        lambda index, char: text[:index] + char + text[index:],
        st.integers(0, len(text)),
        st.sampled_from(FORBIDDEN_CHARS + EDGE_ALLOWED_CHARS),
    )


_plain_text = st.text(max_size=40)

actions = st.one_of(
    st.sampled_from(CATALOGUE_ACTIONS),
    st.sampled_from(ESCALATIONS),
    st.sampled_from(ESCALATION_WILDCARDS),
    st.sampled_from(HARMLESS_WILDCARDS),
    st.sampled_from(ESCALATIONS + ESCALATION_WILDCARDS).flatmap(lookalike),
    st.sampled_from(CATALOGUE_ACTIONS[:50] + ESCALATIONS).flatmap(with_forbidden),
    st.sampled_from(ESCALATIONS).map(lambda a: a.swapcase()),
    st.from_regex(r"[a-z0-9-]{1,12}:[A-Za-z*?]{1,20}", fullmatch=True),
    _plain_text,
)

_arn_service = st.sampled_from(["s3", "iam", "kms", "dynamodb", "secretsmanager", "sqs", "ec2"])
_partition = st.sampled_from(["aws", "aws-cn", "aws-us-gov", "aws-iso", "awz"])
resources = st.one_of(
    st.just("*"),
    st.builds(
        lambda p, s, r, a, res: f"arn:{p}:{s}:{r}:{a}:{res}",
        _partition,
        _arn_service,
        st.sampled_from(["", "us-east-1", "eu-west-1", "cn-north-1", "*"]),
        st.sampled_from(["", ACCOUNT, "*", "12345"]),
        st.from_regex(r"[A-Za-z0-9/_*.:-]{0,40}", fullmatch=True),
    ),
    st.sampled_from(["arn:aws:s3:::bucket/*", "arn:aws:iam::*:role/*"]).flatmap(with_forbidden),
    st.sampled_from(["arn:aws:s3:::bucket/*"]).flatmap(lookalike),
    _plain_text,
)

_operators = st.one_of(
    st.sampled_from(
        [
            "StringEquals",
            "StringLike",
            "StringNotEquals",
            "ArnLike",
            "ArnEquals",
            "Null",
            "Bool",
            "NumericLessThan",
            "DateGreaterThan",
            "IpAddress",
            "ForAllValues:StringEquals",
            "ForAnyValue:StringLike",
            "StringEqualsIfExists",
            "NullIfExists",
            "StringEqualz",
            "stringequals",
            "ForSomeValues:StringEquals",
        ]
    ),
    _plain_text,
)
_condition_keys = st.one_of(
    st.sampled_from(
        [
            "aws:SourceIp",
            "aws:RequestedRegion",
            "aws:PrincipalTag/team",
            "s3:prefix",
            "iam:PermissionsBoundary",
            "aws:CurrentTime",
            "aws:SecureTransport",
            "nocolon",
        ]
    ),
    _plain_text,
)
_condition_scalar = st.one_of(
    st.sampled_from(["10.0.0.0/8", "eu-west-1", "true", "false", "2030-01-01T00:00:00Z", "5"]),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    _plain_text,
    st.sampled_from(["team-a"]).flatmap(with_forbidden),
)
conditions = st.dictionaries(
    _operators,
    st.one_of(
        st.dictionaries(
            _condition_keys,
            st.one_of(_condition_scalar, st.lists(_condition_scalar, max_size=3)),
            max_size=3,
        ),
        _condition_scalar,
    ),
    max_size=3,
)


def _one_or_list(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(values, st.lists(values, max_size=4))


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=30),
)
#: Any JSON/YAML value, used to retype a field.
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)

effects = st.one_of(
    st.sampled_from(["Allow", "Deny"]),
    st.sampled_from(["allow", "DENY", "Permit", "", " Allow"]),
    json_values,
)
statement_keys = st.sampled_from(
    ["Sid", "Effect", "Action", "NotAction", "Resource", "NotResource", "Condition"]
)


@st.composite
def statements(draw: st.DrawFn) -> Any:
    """One IAM statement, valid-looking more often than not, hostile in places."""
    if draw(st.integers(0, 20)) == 0:
        return draw(json_values)  # not even an object
    stmt: dict[str, Any] = {}
    if draw(st.booleans()):
        stmt["Sid"] = draw(st.one_of(st.from_regex(r"[A-Za-z0-9]{1,12}", fullmatch=True), effects))
    stmt["Effect"] = draw(effects) if draw(st.integers(0, 5)) == 0 else "Allow"
    if draw(st.integers(0, 4)) == 0:
        stmt["NotAction"] = draw(_one_or_list(actions))
    else:
        stmt["Action"] = draw(_one_or_list(actions))
    if draw(st.integers(0, 6)) == 0:
        stmt["NotResource"] = draw(_one_or_list(resources))
    else:
        stmt["Resource"] = draw(_one_or_list(resources))
    if draw(st.integers(0, 3)) == 0:
        stmt["Condition"] = draw(conditions)
    if draw(st.integers(0, 10)) == 0:
        stmt[draw(st.sampled_from(["Principal", "NotPrincipal", "Foo", "effect", "action"]))] = (
            draw(json_values)
        )
    if draw(st.integers(0, 10)) == 0:
        stmt.pop(draw(statement_keys), None)
    return stmt


class Dup(dict[str, Any]):
    """A mapping emitted with one key written twice (the second value is ``dup_value``)."""

    dup_key: str
    dup_value: Any


def _emit_json(value: Any) -> str:
    """JSON text of ``value``, writing the duplicate key of any :class:`Dup` twice."""
    if isinstance(value, dict):
        parts = [f"{json.dumps(str(k))}: {_emit_json(v)}" for k, v in value.items()]
        if isinstance(value, Dup):
            parts.append(f"{json.dumps(value.dup_key)}: {_emit_json(value.dup_value)}")
        return "{" + ", ".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_emit_json(v) for v in value) + "]"
    if isinstance(value, float) and value != value:  # NaN: what a careless writer emits
        return "NaN"
    return json.dumps(value)


def _contains_dup(value: Any) -> bool:
    if isinstance(value, Dup):
        return True
    if isinstance(value, dict):
        return any(_contains_dup(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_dup(v) for v in value)
    return False


# -- paths into a document ---------------------------------------------------------------


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found: list[tuple[Any, ...]] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.append((*prefix, key))
            found.extend(_paths(value, (*prefix, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.append((*prefix, index))
            found.extend(_paths(value, (*prefix, index)))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        doc = doc[part]
    return doc


def _spec(doc: dict[str, Any]) -> dict[str, Any]:
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        spec = {}
        doc["spec"] = spec
    return spec


# -- mutations ----------------------------------------------------------------------------

Mutation = Callable[[st.DrawFn, dict[str, Any]], str]


def _drop(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    paths = _paths(doc)
    if not paths:
        return "drop(none)"
    path = draw(st.sampled_from(paths))
    del _parent(doc, path)[path[-1]]
    return "drop"


def _retype(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    paths = _paths(doc)
    if not paths:
        return "retype(none)"
    path = draw(st.sampled_from(paths))
    _parent(doc, path)[path[-1]] = draw(json_values)
    return "retype"


def _duplicate_key(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    holders = [p for p in [(), *_paths(doc)] if isinstance(_get(doc, p), dict) and _get(doc, p)]
    if not holders:
        return "duplicate-key(none)"
    path = draw(st.sampled_from(holders))
    mapping = _get(doc, path)
    dup = Dup(mapping)
    dup.dup_key = draw(st.sampled_from(sorted(map(str, mapping))))
    dup.dup_value = draw(st.one_of(st.just(mapping[dup.dup_key]), json_values))
    if path:
        _parent(doc, path)[path[-1]] = dup
    else:
        doc.clear()
        doc["__dup_root__"] = dup
    return "duplicate-key"


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        doc = doc[part]
    return doc


_ROLE_KEYS = st.one_of(
    st.sampled_from(["node", "master", "control-plane", "bastion"]),
    st.sampled_from(["worker", "Node", "nodes", ""]),
    _plain_text,
)


def _inject_statements(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    spec = _spec(doc)
    policies = spec.get("additionalPolicies")
    if not isinstance(policies, dict):
        policies = {}
        spec["additionalPolicies"] = policies
    role = draw(_ROLE_KEYS)
    stmts = draw(st.lists(statements(), min_size=0, max_size=6))
    if stmts and draw(st.integers(0, 6)) == 0:
        stmts[0] = Dup(stmts[0]) if isinstance(stmts[0], dict) and stmts[0] else stmts[0]
        if isinstance(stmts[0], Dup):
            stmts[0].dup_key = next(iter(stmts[0]))
            stmts[0].dup_value = draw(json_values)
    form = draw(st.integers(0, 12))
    if form == 0:
        policies[role] = stmts  # a YAML list, not the JSON string kops wants
    elif form == 1:
        policies[role] = draw(st.text(max_size=60))  # not JSON at all
    else:
        policies[role] = _emit_json(stmts) if _contains_dup(stmts) else json.dumps(stmts)
    return "inject-statements"


def _many_statements(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    spec = _spec(doc)
    count = draw(st.sampled_from([0, 1, 50, 150, 220, 400, 1000, 1001, 3000]))
    stmt = draw(statements())
    role = draw(st.sampled_from(["node", "master", "bastion"]))
    sids = draw(st.sampled_from(["keep", "unique", "none"]))
    frozen = json.dumps(stmt)
    stmts = []
    for index in range(count):
        item = json.loads(frozen)
        if isinstance(item, dict) and sids != "keep":
            item.pop("Sid", None)
            if sids == "unique":
                item["Sid"] = f"S{index}"
        stmts.append(item)
    spec["additionalPolicies"] = {role: json.dumps(stmts)}
    return f"many-statements({count})"


def _hostile_strings(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    paths = [p for p in _paths(doc) if isinstance(_get(doc, p), str)]
    if not paths:
        return "strings(none)"
    path = draw(st.sampled_from(paths))
    text = _get(doc, path)
    _parent(doc, path)[path[-1]] = draw(st.one_of(lookalike(text), with_forbidden(text)))
    return "hostile-string"


def _rename_cluster(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    metadata = doc.get("metadata")
    if not isinstance(metadata, dict):
        metadata = {}
        doc["metadata"] = metadata
    metadata["name"] = draw(
        st.one_of(
            st.from_regex(r"[a-z0-9-]{1,63}(\.[a-z0-9-]{1,63}){0,4}", fullmatch=True),
            st.just("a" * 60 + ".k8s.example.com"),
            st.just("${CLUSTER_NAME}"),
            st.sampled_from(["x.example.com"]).flatmap(lookalike),
            _plain_text,
        )
    )
    return "rename"


def _labels(draw: st.DrawFn, doc: dict[str, Any]) -> str:
    spec = _spec(doc)
    spec["cloudLabels"] = draw(
        st.one_of(
            st.dictionaries(st.text(max_size=140), st.text(max_size=270), max_size=5),
            st.dictionaries(
                st.from_regex(r"[a-z]{1,8}", fullmatch=True),
                st.just("v"),
                min_size=45,
                max_size=50,
            ),
            json_values,
        )
    )
    return "labels"


MUTATIONS: list[Mutation] = [
    _drop,
    _retype,
    _duplicate_key,
    _inject_statements,
    _inject_statements,
    _many_statements,
    _hostile_strings,
    _rename_cluster,
    _labels,
]


def _emit_yaml_block(doc: Any) -> str:
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(doc, Dumper=dumper, sort_keys=False, allow_unicode=True)


@dataclass(frozen=True)
class Case:
    """One hostile input: its bytes and how it was made (for the failure report)."""

    data: bytes
    sample: str
    mutations: tuple[str, ...]
    options: Options

    def __repr__(self) -> str:
        preview = self.data[:400]
        return (
            f"Case(sample={self.sample!r}, mutations={self.mutations}, options={self.options}, "
            f"{len(self.data)} bytes: {preview!r}{'...' if len(self.data) > 400 else ''})"
        )


options = st.builds(
    Options,
    account_id=st.just(ACCOUNT),
    allowed_actions=st.frozensets(
        st.sampled_from([*ESCALATIONS, "iam:*", "iam:Put*", "*", "lambda:*"]), max_size=2
    ).map(lambda s: s if len(s) < 2 else frozenset()),
    permissions_boundary=st.sampled_from([None, None, BOUNDARY]),
)


@st.composite
def hostile_specs(draw: st.DrawFn) -> Case:
    """A valid sample spec with 0-4 mutations, serialized in one of several ways."""
    name = draw(st.sampled_from(sorted(SAMPLES)))
    doc = copy.deepcopy(SAMPLES[name])
    applied = tuple(
        draw(st.sampled_from(MUTATIONS))(draw, doc) for _ in range(draw(st.integers(0, 4)))
    )
    if "__dup_root__" in doc:
        root: Any = doc["__dup_root__"]
    else:
        root = doc
    form = draw(st.sampled_from(["yaml", "yaml", "json", "yaml-flow"]))
    if _contains_dup(root) or form != "yaml":
        text = _emit_json(root)
        if form == "yaml-flow" or (form == "yaml" and _contains_dup(root)):
            text = "# flow-style YAML\n" + text
    else:
        try:
            text = _emit_yaml_block(root)
        except yaml.YAMLError:
            text = _emit_json(root)
    encoding = draw(st.sampled_from(["utf-8"] * 8 + ["utf-8-sig", "utf-16", "latin-1"]))
    data = text.encode(encoding, errors="replace")
    return Case(data=data, sample=name, mutations=applied, options=draw(options))


@st.composite
def raw_inputs(draw: st.DrawFn) -> bytes:
    """Unstructured bytes: random binary or byte-level mutations of a valid sample."""
    if draw(st.integers(0, 3)) == 0:
        return draw(st.binary(max_size=2048))
    data = bytearray(SAMPLE_BYTES[draw(st.sampled_from(sorted(SAMPLE_BYTES)))])
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.integers(0, 4))
        index = draw(st.integers(0, len(data)))
        if kind == 0 and index < len(data):
            data[index] ^= 1 << draw(st.integers(0, 7))
        elif kind == 1:
            data[index:index] = draw(st.binary(min_size=1, max_size=8))
        elif kind == 2:
            del data[index : index + draw(st.integers(1, 16))]
        elif kind == 3:
            data[index:index] = draw(
                st.sampled_from(
                    [b"&a ", b"*a", b"!!python/object:os.system ", b"<<: ", b"\t", b"{", b"]"]
                )
            )
        else:
            data = data[:index]
    return bytes(data)
