"""The shared snapshot's bytes (docs/adr/0117): what the schedule writes, a worker reads back
exactly; anything else is refused with ValueError, never half-read."""

from __future__ import annotations

import gzip
import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from kops_iam.aws.iam_snapshot import (
    SNAPSHOT_FORMAT,
    IamSnapshot,
    SnapshotProfile,
    SnapshotRole,
    dump_snapshot,
    load_snapshot,
)

text = st.text(max_size=20)
pairs = st.lists(st.tuples(text, text), max_size=4).map(tuple)
profiles = st.builds(
    SnapshotProfile,
    name=text,
    path=text,
    roles=st.lists(text, max_size=2).map(tuple),
    tags=st.none() | pairs,
)


@st.composite
def snapshots(draw: st.DrawFn) -> IamSnapshot:
    roles = draw(
        st.lists(
            st.builds(
                SnapshotRole,
                name=text,
                path=text,
                trust=text,
                tags=pairs,
                boundary=st.none() | text,
                inline=pairs,
                managed=st.frozensets(text, max_size=3),
                profiles=st.lists(profiles, max_size=2).map(tuple),
            ),
            max_size=5,
            unique_by=lambda r: r.name,
        )
    )
    return IamSnapshot(
        roles={r.name: r for r in roles},
        taken_at=draw(st.floats(min_value=0, max_value=4e9)),
        pages=draw(st.integers(0, 100)),
        seen=draw(st.integers(0, 10_000)),
        profile_tags_missing=draw(st.integers(0, 10)),
    )


@settings(max_examples=150, deadline=None)
@given(snapshots())
def test_a_worker_reads_back_exactly_what_the_schedule_wrote(snapshot: IamSnapshot) -> None:
    assert load_snapshot(dump_snapshot(snapshot)) == snapshot


def _gz(document: object) -> bytes:
    return gzip.compress(json.dumps(document).encode(), mtime=0)


ROLE = ["nodes.a", "/", "{}", [["k", "v"]], None, [["p", "{}"]], ["arn:x"], []]
GOOD = {
    "format": SNAPSHOT_FORMAT,
    "takenAt": 1.0,
    "pages": 1,
    "seen": 1,
    "profileTagsMissing": 0,
    "roles": [ROLE],
}


def test_the_good_document_of_these_tests_loads() -> None:
    assert set(load_snapshot(_gz(GOOD)).roles) == {"nodes.a"}


REFUSED = [
    (b"not gzip", "not gzip"),
    (gzip.compress(b"{not json", mtime=0), "not JSON"),
    (_gz([GOOD]), "not an object"),
    (_gz({**GOOD, "format": "kops-iam/iam-snapshot/0"}), "another format"),
    (_gz({k: v for k, v in GOOD.items() if k != "takenAt"}), "no takenAt"),
    (_gz({**GOOD, "takenAt": "1"}), "takenAt a string"),
    (_gz({**GOOD, "pages": True}), "pages a boolean"),
    (_gz({**GOOD, "pages": float("inf")}), "pages infinite"),
    (_gz({**GOOD, "takenAt": float("nan")}), "takenAt not a number"),
    (_gz({**GOOD, "roles": [ROLE[:7]]}), "a role of 7 fields"),
    (_gz({**GOOD, "roles": [[1, *ROLE[1:]]]}), "a role name that is a number"),
    (_gz({**GOOD, "roles": [ROLE, ROLE]}), "one role twice"),
    (_gz({**GOOD, "roles": [[*ROLE[:3], [["k"]], *ROLE[4:]]]}), "a tag without a value"),
    (_gz({**GOOD, "roles": [[*ROLE[:7], [["p", "/", [], [["k"]]]]]]}), "a bad profile tag"),
    (_gz({**GOOD, "roles": {"nodes.a": ROLE}}), "roles an object"),
]


@pytest.mark.parametrize(("data", "why"), REFUSED, ids=[why for _, why in REFUSED])
def test_anything_else_is_refused(data: bytes, why: str) -> None:
    # the document and role names when it is read; a role's fields when it is looked up
    with pytest.raises(ValueError, match=r"not a snapshot|expected|twice"):
        snapshot = load_snapshot(data)
        for name in snapshot.roles:
            assert snapshot.roles[name].name == name


def test_a_loaded_snapshot_makes_only_the_roles_looked_up() -> None:
    bad = ["nodes.i", "/", "{}", [["k"]], None, [], [], []]  # a tag without a value
    snapshot = load_snapshot(_gz({**GOOD, "roles": [ROLE, bad]}))
    assert len(snapshot.roles) == 2 and sorted(snapshot.roles) == ["nodes.a", "nodes.i"]
    assert snapshot.roles["nodes.a"].managed == frozenset({"arn:x"})
    assert snapshot.roles["nodes.a"] is snapshot.roles["nodes.a"]
    with pytest.raises(ValueError, match="expected a list of 2"):
        snapshot.roles["nodes.i"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=8) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=40,
)


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=200),
        json_values.map(_gz),
        st.dictionaries(st.sampled_from(sorted(GOOD)), json_values).map(
            lambda fields: _gz({**GOOD, **fields})
        ),
        st.lists(json_values, max_size=8).map(lambda roles: _gz({**GOOD, "roles": roles})),
        st.lists(st.lists(json_values, min_size=8, max_size=8), max_size=4).map(
            lambda rows: _gz({**GOOD, "roles": [[str(i), *row[1:]] for i, row in enumerate(rows)]})
        ),
    )
)
@example(_gz({**GOOD, "pages": float("inf")}))  # found by hand: int(inf) is OverflowError
def test_no_crafted_object_gets_past_the_loader_other_than_as_value_error(data: bytes) -> None:
    # Whatever the object holds, a worker gets a snapshot whose roles are well formed, or a
    # ValueError (it then reads IAM itself): never another exception, never a half-made role
    try:
        snapshot = load_snapshot(data)
        for name in list(snapshot.roles):
            try:
                role = snapshot.roles[name]
            except ValueError:
                continue
            assert role.name == name and isinstance(role.trust, str)
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in role.tags)
    except ValueError:
        pass
