"""Pure parts of the reconciler: policy normalization, per-role diffs, write classification."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from kops_iam.aws.iam_diff import (
    RoleChange,
    RoleConflict,
    Write,
    diff_cluster,
    diff_role,
    normalize_policy,
    policies_equal,
    policy_diff,
)
from kops_iam.aws.iam_read import LiveProfile, LiveRole, Observed
from kops_iam.aws.iam_write import ConcurrentChange, WriteFailed, execute
from kops_iam.domain.model import ClusterPlan, RolePlan
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
)

CLUSTER = "u.k8s.example.com"
NODES = f"nodes.{CLUSTER}"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "ec2.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
OWNED = {
    OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE,
    CLUSTER_TAG_KEY: CLUSTER,
    "KubernetesCluster": CLUSTER,
}


def doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


MAIN = doc({"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": ["*"]})
EXTRA = doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]})


def role_plan(**changes: Any) -> RolePlan:
    values: dict[str, Any] = {
        "kind": "node",
        "role_name": NODES,
        "instance_profile_name": NODES,
        "assume_role_policy": TRUST,
        "permissions_boundary": None,
        "tags": dict(OWNED),
        "managed_policy_arns": (),
        "inline_policies": {NODES: MAIN, f"additional.{NODES}": EXTRA},
    }
    values.update(changes)
    return RolePlan(**values)


def live_role(**changes: Any) -> LiveRole:
    values: dict[str, Any] = {
        "name": NODES,
        "path": MANAGED_PATH,
        "trust": TRUST,
        "tags": dict(OWNED),
        "boundary": None,
        "inline": {NODES: MAIN, f"additional.{NODES}": EXTRA},
        "managed": frozenset(),
    }
    values.update(changes)
    return LiveRole(**values)


PROFILE = LiveProfile(name=NODES, roles=(NODES,), tags=dict(OWNED), path=MANAGED_PATH)


def ops(writes: tuple[Write, ...] | Any) -> list[str]:
    return [w.operation for w in writes]


# ------------------------------------------------------------------ normalization


def test_normalization_ignores_what_iam_ignores() -> None:
    # Given the same policy written two ways
    a = {
        "Version": "2012-10-17",
        "Statement": {
            "Effect": "Allow",
            "Action": "s3:GetObject",
            "Resource": ["arn:aws:s3:::b/*"],
            "Condition": {"Bool": {"aws:SecureTransport": True}},
        },
    }
    b = doc(
        {
            "Resource": "arn:aws:s3:::b/*",
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:GetObject"],
            "Condition": {"Bool": {"aws:SecureTransport": ["true"]}},
        }
    )
    # Then they are equal, also when one comes URL-encoded as IAM sends it on the wire
    assert policies_equal(a, b)
    assert policies_equal(quote(json.dumps(a)), b)


def test_normalization_keeps_real_differences() -> None:
    base = doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["*"]})
    for other in (
        doc({"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": ["*"]}),
        doc({"Effect": "Allow", "Action": ["s3:PutObject"], "Resource": ["*"]}),
        doc({"Effect": "Allow", "NotAction": ["s3:GetObject"], "Resource": ["*"]}),
        doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::x"]}),
        {"Statement": base["Statement"]},  # Version 2008-10-17 by default
    ):
        assert not policies_equal(base, other)


actions = st.lists(
    st.sampled_from(["s3:GetObject", "s3:PutObject", "ec2:*", "iam:GetRole"]), min_size=1
)
statements = st.lists(
    st.builds(
        lambda effect, acts, res: {"Effect": effect, "Action": acts, "Resource": res},
        st.sampled_from(["Allow", "Deny"]),
        actions,
        st.lists(st.sampled_from(["*", "arn:aws:s3:::a", "arn:aws:s3:::b/*"]), min_size=1),
    ),
    min_size=1,
    max_size=5,
)


@given(statements, st.randoms(use_true_random=False))
def test_reordering_lists_and_statements_never_matters(
    given_statements: list[dict[str, Any]], rnd: Any
) -> None:
    shuffled = []
    for statement in given_statements:
        copy = {k: list(v) if isinstance(v, list) else v for k, v in statement.items()}
        rnd.shuffle(copy["Action"])
        rnd.shuffle(copy["Resource"])
        shuffled.append(copy)
    rnd.shuffle(shuffled)
    assert normalize_policy(doc(*given_statements)) == normalize_policy(doc(*shuffled))


# ------------------------------------------------------------------ per-role diff


def test_a_missing_role_is_created_with_profile_in_order() -> None:
    change = diff_role(
        role_plan(permissions_boundary="arn:aws:iam::1:policy/b"), Observed(None, None)
    )
    assert not isinstance(change, RoleConflict)
    assert change.action == "create"
    assert ops(change.writes) == [
        "create_role",
        "put_role_policy",
        "put_role_policy",
        "create_instance_profile",
        "add_role_to_instance_profile",
    ]
    create = change.writes[0].params
    assert create["PermissionsBoundary"] == "arn:aws:iam::1:policy/b"
    assert {"Key": OWNERSHIP_TAG_KEY, "Value": OWNERSHIP_TAG_VALUE} in create["Tags"]
    assert json.loads(create["AssumeRolePolicyDocument"]) == TRUST
    assert change.diff["inlinePolicies"][f"additional.{NODES}"]["change"] == "added"


def test_a_matching_role_needs_no_write() -> None:
    # Given IAM holding the same documents written differently
    reordered = {
        NODES: {
            "Statement": [{"Resource": "*", "Action": "ec2:Describe*", "Effect": "Allow"}],
            "Version": "2012-10-17",
        },
        f"additional.{NODES}": EXTRA,
    }
    change = diff_role(role_plan(), Observed(live_role(inline=reordered), PROFILE))
    assert not isinstance(change, RoleConflict)
    assert change.action == "unchanged" and change.writes == ()


def test_each_difference_becomes_one_targeted_write() -> None:
    live = live_role(
        trust=doc({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "sts:AssumeRole"}),
        tags={**OWNED, "handmade": "yes", "KubernetesCluster": "other"},
        boundary="arn:aws:iam::1:policy/old",
        inline={NODES: MAIN, "handmade": EXTRA},
        managed=frozenset({"arn:aws:iam::1:policy/handmade"}),
    )
    plan = role_plan(managed_policy_arns=("arn:aws:iam::1:policy/wanted",))
    change = diff_role(plan, Observed(live, PROFILE))
    assert not isinstance(change, RoleConflict)
    assert ops(change.writes) == [
        "tag_role",
        "untag_role",
        "update_assume_role_policy",
        "delete_role_permissions_boundary",
        "put_role_policy",
        "attach_role_policy",
        "delete_role_policy",
        "detach_role_policy",
    ]
    assert change.diff["tags"] == {
        "changed": {"KubernetesCluster": {"before": "other", "after": CLUSTER}},
        "removed": {"handmade": "yes"},
    }
    assert change.diff["permissionsBoundary"] == {
        "before": "arn:aws:iam::1:policy/old",
        "after": None,
    }
    assert change.diff["managedPolicies"] == {
        "attached": ["arn:aws:iam::1:policy/wanted"],
        "detached": ["arn:aws:iam::1:policy/handmade"],
    }


def test_a_foreign_role_is_a_conflict_unless_adopted() -> None:
    foreign = live_role(tags={"owner": "them"})
    conflict = diff_role(role_plan(), Observed(foreign, None))
    assert isinstance(conflict, RoleConflict)
    assert "not managed by kops-iam" in conflict.reason

    adopted = diff_role(role_plan(), Observed(foreign, None), adopt=True)
    assert not isinstance(adopted, RoleConflict)
    assert adopted.diff["adopted"] is True
    assert ops(adopted.writes)[:2] == ["tag_role", "untag_role"]


def test_a_profile_holding_another_role_is_a_conflict() -> None:
    profile = LiveProfile(name=NODES, roles=("someone-else",), tags=dict(OWNED), path=MANAGED_PATH)
    assert isinstance(diff_role(role_plan(), Observed(live_role(), profile)), RoleConflict)


def test_a_profile_without_the_role_gets_it_back() -> None:
    profile = LiveProfile(name=NODES, roles=(), tags=dict(OWNED), path=MANAGED_PATH)
    change = diff_role(role_plan(), Observed(live_role(), profile))
    assert not isinstance(change, RoleConflict)
    assert ops(change.writes) == ["add_role_to_instance_profile"]


def test_more_than_fifty_tag_changes_are_chunked() -> None:
    tags = {**OWNED, **{f"k{i}": "v" for i in range(60)}}
    change = diff_role(role_plan(tags=tags), Observed(live_role(), PROFILE))
    assert not isinstance(change, RoleConflict)
    tag_calls = [w for w in change.writes if w.operation == "tag_role"]
    assert [len(w.params["Tags"]) for w in tag_calls] == [50, 10]


# ------------------------------------------------------------------ cluster diff


def cluster_plan(*roles: RolePlan) -> ClusterPlan:
    return ClusterPlan(
        cluster=CLUSTER,
        partition="aws",
        region="eu-west-1",
        warnings=(),
        roles={r.kind: r for r in roles},
    )


def test_a_gone_cluster_deletes_owned_roles_in_a_safe_order() -> None:
    observed = {
        "node": Observed(
            live_role(managed=frozenset({"arn:aws:iam::1:policy/x"}), other_profiles=("stray",)),
            PROFILE,
        )
    }
    changes = diff_cluster(CLUSTER, None, observed)
    assert ops(changes.writes) == [
        "remove_role_from_instance_profile",
        "remove_role_from_instance_profile",
        "delete_instance_profile",
        "detach_role_policy",
        "delete_role_policy",
        "delete_role_policy",
        "delete_role",
    ]
    assert changes.roles[0].action == "delete"


def test_retain_keeps_and_foreign_roles_are_skipped() -> None:
    observed = {
        "node": Observed(live_role(), PROFILE),
        "master": Observed(live_role(name=f"masters.{CLUSTER}", tags={}), None),
    }
    changes = diff_cluster(CLUSTER, None, observed, retain=True)
    assert changes.writes == ()
    assert {c.kind: c.action for c in changes.roles} == {"master": "skip", "node": "retain"}


def test_a_kind_dropped_from_the_plan_is_deleted_when_owned() -> None:
    bastion = live_role(name=f"bastions.{CLUSTER}", inline={})
    observed = {"node": Observed(live_role(), PROFILE), "bastion": Observed(bastion, None)}
    changes = diff_cluster(CLUSTER, cluster_plan(role_plan()), observed)
    assert [(c.kind, c.action) for c in changes.roles] == [
        ("node", "unchanged"),
        ("bastion", "delete"),
    ]
    assert ops(changes.writes) == ["delete_role"]


# ------------------------------------------------------------------ readable diff


def test_policy_diff_names_actions_resources_and_effects() -> None:
    before = doc({"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::a/*"})
    after = doc(
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": "arn:aws:s3:::b/*",
        },
        {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
        {"Effect": "Allow", "NotAction": "iam:*", "NotResource": "arn:aws:iam::*:role/x"},
    )
    diff = policy_diff(before, after)
    assert diff["change"] == "modified"
    assert diff["actions"] == {
        "added": ["Allow NotAction iam:*", "Deny s3:DeleteObject", "s3:PutObject"],
        "removed": [],
    }
    assert diff["resources"] == {
        "added": ["*", "NotResource arn:aws:iam::*:role/x", "arn:aws:s3:::b/*"],
        "removed": ["arn:aws:s3:::a/*"],
    }
    assert len(diff["statements"]["added"]) == 3 and len(diff["statements"]["removed"]) == 1
    assert policy_diff(None, after)["change"] == "added"
    assert policy_diff(before, None)["actions"]["removed"] == ["s3:GetObject"]


# ------------------------------------------------------------------ executing writes


class FakeIAM:
    """Answers each operation with an error code from ``errors`` (or success)."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        self.called: list[str] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.called.append(operation)
            if operation in self.errors:
                raise ClientError(
                    {"Error": {"Code": self.errors[operation], "Message": "x"}}, operation
                )
            return {}

        return call


@pytest.mark.parametrize(
    ("operation", "code", "expected"),
    [
        ("create_role", "EntityAlreadyExists", ConcurrentChange),
        ("delete_role", "DeleteConflict", ConcurrentChange),
        ("put_role_policy", "NoSuchEntity", ConcurrentChange),  # the role vanished
        ("add_role_to_instance_profile", "LimitExceeded", ConcurrentChange),
        ("attach_role_policy", "NoSuchEntity", WriteFailed),  # the managed policy is missing
        ("put_role_policy", "MalformedPolicyDocument", WriteFailed),
        ("put_role_policy", "AccessDenied", WriteFailed),
    ],
)
def test_write_errors_are_classified(operation: str, code: str, expected: type[Exception]) -> None:
    writes = [Write("tag_role", {"RoleName": NODES}), Write(operation, {"RoleName": NODES})]
    with pytest.raises(expected) as info:
        execute(FakeIAM({operation: code}), writes)  # type: ignore[arg-type]
    assert [w.operation for w in info.value.completed] == ["tag_role"]  # type: ignore[attr-defined]


def test_deleting_what_is_already_gone_is_success() -> None:
    iam = FakeIAM({"delete_role_policy": "NoSuchEntity", "detach_role_policy": "NoSuchEntity"})
    writes = [
        Write("delete_role_policy", {"RoleName": NODES, "PolicyName": "x"}),
        Write("detach_role_policy", {"RoleName": NODES, "PolicyArn": "arn"}),
        Write("delete_role", {"RoleName": NODES}),
    ]
    assert len(execute(iam, writes)) == 3  # type: ignore[arg-type]
    assert iam.called == ["delete_role_policy", "detach_role_policy", "delete_role"]


def test_write_descriptions_name_the_target() -> None:
    assert (
        Write("put_role_policy", {"RoleName": "r", "PolicyName": "p"}).describe()
        == "put_role_policy r/p"
    )
    assert (
        Write(
            "add_role_to_instance_profile", {"InstanceProfileName": "ip", "RoleName": "r"}
        ).describe()
        == "add_role_to_instance_profile ip/r"
    )


# ------------------------------------------------------------------ every write, every error

#: Every IAM write kops-iam makes, with the parameters it sends.
EVERY_WRITE = [
    Write("create_role", {"RoleName": NODES, "AssumeRolePolicyDocument": "{}"}),
    Write("update_assume_role_policy", {"RoleName": NODES, "PolicyDocument": "{}"}),
    Write("put_role_permissions_boundary", {"RoleName": NODES, "PermissionsBoundary": "arn:b"}),
    Write("delete_role_permissions_boundary", {"RoleName": NODES}),
    Write("tag_role", {"RoleName": NODES, "Tags": [{"Key": "k", "Value": "v"}]}),
    Write("untag_role", {"RoleName": NODES, "TagKeys": ["k"]}),
    Write("put_role_policy", {"RoleName": NODES, "PolicyName": "p", "PolicyDocument": "{}"}),
    Write("delete_role_policy", {"RoleName": NODES, "PolicyName": "p"}),
    Write("attach_role_policy", {"RoleName": NODES, "PolicyArn": "arn:p"}),
    Write("detach_role_policy", {"RoleName": NODES, "PolicyArn": "arn:p"}),
    Write("create_instance_profile", {"InstanceProfileName": NODES}),
    Write("tag_instance_profile", {"InstanceProfileName": NODES, "Tags": []}),
    Write("untag_instance_profile", {"InstanceProfileName": NODES, "TagKeys": ["k"]}),
    Write("add_role_to_instance_profile", {"InstanceProfileName": NODES, "RoleName": NODES}),
    Write("remove_role_from_instance_profile", {"InstanceProfileName": NODES, "RoleName": NODES}),
    Write("delete_instance_profile", {"InstanceProfileName": NODES}),
    Write("delete_role", {"RoleName": NODES}),
]
#: The writes whose NoSuchEntity means "already gone": deleting it is then success.
CLEANUPS = {
    "delete_role_permissions_boundary",
    "delete_role_policy",
    "detach_role_policy",
    "remove_role_from_instance_profile",
    "delete_instance_profile",
    "delete_role",
}
#: The writes whose NoSuchEntity names a missing managed policy or boundary, not the role.
POLICY_LOOKUPS = {"create_role", "attach_role_policy", "put_role_permissions_boundary"}


class RecordingIAM:
    """Records each call with its parameters; raises ``error`` on the write ``failing``."""

    def __init__(self, failing: Write | None = None, error: Exception | None = None) -> None:
        self.failing, self.error = failing, error
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append((operation, params))
            failing = self.failing
            if failing and (operation, params) == (failing.operation, dict(failing.params)):
                assert self.error is not None
                raise self.error
            return {}

        return call


def test_each_write_is_the_iam_call_of_its_name_with_its_parameters() -> None:
    # Given every write kops-iam makes, When executed in order
    iam = RecordingIAM()
    seen: list[Write] = []
    done = execute(iam, EVERY_WRITE, on_write=seen.append)  # type: ignore[arg-type]
    # Then IAM got exactly those calls, in order, and each was reported as done
    assert iam.calls == [(w.operation, dict(w.params)) for w in EVERY_WRITE]
    assert list(done) == seen == EVERY_WRITE


def expected_outcome(operation: str, code: str) -> str:
    """What an IAM error on a write means for the pass (docs/adr/0020, 0021)."""
    if code == "NoSuchEntity" and operation in CLEANUPS:
        return "done"  # already gone
    if code in ("EntityAlreadyExists", "DeleteConflict", "ConcurrentModification"):
        return "concurrent"
    if code == "NoSuchEntity":
        return "failed" if operation in POLICY_LOOKUPS else "concurrent"  # the role vanished
    if code == "LimitExceeded" and operation == "add_role_to_instance_profile":
        return "concurrent"  # another role took the profile's one slot meanwhile
    return "failed"


@pytest.mark.parametrize("write", EVERY_WRITE, ids=lambda w: w.operation)
@pytest.mark.parametrize(
    "code",
    [
        "NoSuchEntity",
        "EntityAlreadyExists",
        "DeleteConflict",
        "ConcurrentModification",
        "LimitExceeded",
        "MalformedPolicyDocument",
        "AccessDenied",
        "Throttling",
    ],
)
def test_each_error_on_each_write_means_done_concurrent_change_or_failure(
    write: Write, code: str
) -> None:
    # Given a write that IAM answers with an error code, after a first write went through
    error = ClientError({"Error": {"Code": code, "Message": "m"}}, write.operation)
    first = Write("tag_role", {"RoleName": f"masters.{CLUSTER}", "Tags": []})
    iam = RecordingIAM(write, error)
    expected = expected_outcome(write.operation, code)
    # When executed
    if expected == "done":
        # Then a cleanup of what is already gone counts as done, and the pass goes on
        assert execute(iam, [first, write, first]) == (first, write, first)  # type: ignore[arg-type]
        return
    kind = ConcurrentChange if expected == "concurrent" else WriteFailed
    with pytest.raises(kind) as info:
        execute(iam, [first, write, first])  # type: ignore[arg-type]
    # Then it stops there, naming the write and what was completed before it
    assert info.value.write == write
    assert info.value.completed == (first,)
    assert [op for op, _ in iam.calls] == ["tag_role", write.operation]
    assert str(info.value).startswith(write.describe())
    if isinstance(info.value, WriteFailed):
        assert info.value.code == code and info.value.cause is error


def test_a_transport_error_is_a_failed_write_not_a_completed_one() -> None:
    # Given IAM unreachable (a botocore transport error, after botocore's own retries)
    from botocore.exceptions import EndpointConnectionError

    error = EndpointConnectionError(endpoint_url="https://iam.amazonaws.com/")
    writes = [EVERY_WRITE[4], EVERY_WRITE[6], EVERY_WRITE[16]]
    iam = RecordingIAM(writes[1], error)
    reported: list[Write] = []
    # When executed, Then the write fails with the cause; nothing after it is attempted
    with pytest.raises(WriteFailed) as info:
        execute(iam, writes, on_write=reported.append)  # type: ignore[arg-type]
    assert info.value.write == writes[1] and info.value.completed == (writes[0],)
    assert info.value.cause is error and info.value.code == ""
    assert reported == [writes[0]]
    assert [op for op, _ in iam.calls] == ["tag_role", "put_role_policy"]


@pytest.mark.parametrize(
    ("write", "described"),
    [
        (EVERY_WRITE[0], f"create_role {NODES}"),
        (EVERY_WRITE[2], f"put_role_permissions_boundary {NODES}"),
        (EVERY_WRITE[6], f"put_role_policy {NODES}/p"),
        (EVERY_WRITE[8], f"attach_role_policy {NODES}/arn:p"),
        (EVERY_WRITE[9], f"detach_role_policy {NODES}/arn:p"),
        (EVERY_WRITE[10], f"create_instance_profile {NODES}"),
        (
            Write("add_role_to_instance_profile", {"InstanceProfileName": "ip", "RoleName": "r"}),
            "add_role_to_instance_profile ip/r",
        ),
        (
            Write(
                "remove_role_from_instance_profile", {"InstanceProfileName": "ip", "RoleName": "r"}
            ),
            "remove_role_from_instance_profile ip/r",
        ),
        (
            Write("remove_role_from_instance_profile", {"RoleName": "r"}),
            "remove_role_from_instance_profile /r",
        ),
        (Write("delete_role", {}), "delete_role "),
    ],
)
def test_each_write_describes_its_target_in_words(write: Write, described: str) -> None:
    # What logs, errors and audit events say about a write: the operation and its target
    assert write.describe() == described


def test_a_role_removed_without_a_cluster_named_is_judged_as_its_owners() -> None:
    # Given an owned role and its empty-once-removed profile, removed without naming the cluster
    from kops_iam.aws.iam_diff import removal

    change = removal("node", live_role(), PROFILE)
    # Then its owner (from its tags) decides, and the profile goes with it
    assert ops(change.writes) == [
        "remove_role_from_instance_profile",
        "delete_instance_profile",
        "delete_role_policy",
        "delete_role_policy",
        "delete_role",
    ]


def test_a_statement_without_effect_reads_as_an_allow_in_the_policy_diff() -> None:
    # A statement read back without an Effect is listed as its plain actions, as an Allow
    diff = policy_diff(None, {"Statement": [{"Action": "s3:GetObject", "Resource": "*"}]})
    assert diff["actions"] == {"added": ["s3:GetObject"], "removed": []}


def test_a_role_diffed_alone_is_created_under_the_path_given() -> None:
    change = diff_role(role_plan(), Observed(role=None, profile=None), path="/custom/")
    assert isinstance(change, RoleChange)
    creates = [w for w in change.writes if w.operation.startswith("create_")]
    assert [(w.operation, w.params["Path"]) for w in creates] == [
        ("create_role", "/custom/"),
        ("create_instance_profile", "/custom/"),
    ]


def test_a_role_diffed_alone_needs_its_cluster() -> None:
    # Given a plan without the cluster tag (not one build_plan makes) and no cluster named
    tags = {k: v for k, v in OWNED.items() if k != CLUSTER_TAG_KEY}
    with pytest.raises(ValueError) as caught:
        diff_role(role_plan(tags=tags), Observed(role=None, profile=None))
    assert str(caught.value) == f"diff_role: no cluster for {NODES}"


def test_a_policy_read_as_bytes_or_url_encoded_normalizes_like_the_document() -> None:
    # IAM's answers may reach the diff as bytes or URL-encoded text: the same policy
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:Get*"}]}
    text = json.dumps(document)
    assert normalize_policy(text.encode("utf-8")) == normalize_policy(document)
    assert normalize_policy(quote(text).encode("utf-8")) == normalize_policy(document)


@pytest.mark.parametrize("document", ["[1]", b'"text"', 5])
def test_a_policy_that_is_no_json_object_is_refused_saying_so(document: Any) -> None:
    with pytest.raises(ValueError) as caught:
        normalize_policy(document)
    assert str(caught.value) == "a policy document must be a JSON object"


ALLOW_GET = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        # IAM's default Version is 2008-10-17: a document without one is that version
        ({"Statement": [ALLOW_GET]}, {"Version": "2008-10-17", "Statement": [ALLOW_GET]}, True),
        ({"Statement": [ALLOW_GET]}, {"Version": "2012-10-17", "Statement": [ALLOW_GET]}, False),
        # the policy Id is kept and compared
        ({"Id": "a", "Statement": [ALLOW_GET]}, {"Id": "a", "Statement": [ALLOW_GET]}, True),
        ({"Id": "a", "Statement": [ALLOW_GET]}, {"Id": "b", "Statement": [ALLOW_GET]}, False),
        ({"Id": "a", "Statement": [ALLOW_GET]}, {"Statement": [ALLOW_GET]}, False),
        # principals: "*" as text, and lists or scalars of service names
        (
            {"Statement": [{**ALLOW_GET, "Principal": "*"}]},
            {"Statement": [{**ALLOW_GET, "Principal": {"AWS": "*"}}]},
            False,
        ),
        (
            {"Statement": [{**ALLOW_GET, "Principal": {"Service": ["a", "b"]}}]},
            {"Statement": [{**ALLOW_GET, "Principal": {"Service": ["b", "a", "a"]}}]},
            True,
        ),
        (
            {"Statement": [{**ALLOW_GET, "Principal": {"Service": "a"}}]},
            {"Statement": [{**ALLOW_GET, "Principal": {"Service": "b"}}]},
            False,
        ),
        # condition values: booleans as text, lists or scalars
        (
            {"Statement": [{**ALLOW_GET, "Condition": {"Bool": {"aws:x": False}}}]},
            {"Statement": [{**ALLOW_GET, "Condition": {"Bool": {"aws:x": ["false"]}}}]},
            True,
        ),
        (
            {"Statement": [{**ALLOW_GET, "Condition": {"Bool": {"aws:x": False}}}]},
            {"Statement": [{**ALLOW_GET, "Condition": {"Bool": {"aws:x": True}}}]},
            False,
        ),
        (
            {"Statement": [{**ALLOW_GET, "Condition": {"StringEquals": {"aws:x": "a"}}}]},
            {"Statement": [{**ALLOW_GET, "Condition": {"StringEquals": {"aws:x": "b"}}}]},
            False,
        ),
        # a field that is not a condition keeps its value as written
        (
            {"Statement": [{**ALLOW_GET, "Sid": "A"}]},
            {"Statement": [{**ALLOW_GET, "Sid": "B"}]},
            False,
        ),
    ],
)
def test_normalization_compares_what_iam_compares(a: Any, b: Any, same: bool) -> None:
    assert policies_equal(a, b) is same
    assert policies_equal(json.dumps(a).encode("utf-8"), b) is same


# ------------------------------------------------------------------ propagation retries (ADR 74)


class PropagatingIAM(RecordingIAM):
    """Answers ``code`` (with ``message``) to the first ``times`` calls of ``failing``."""

    def __init__(
        self, failing: Write, times: int, code: str = "NoSuchEntity", message: str = ""
    ) -> None:
        super().__init__()
        self.failing_write, self.times, self.code, self.message = failing, times, code, message

    def __getattr__(self, operation: str) -> Any:
        def call(**params: Any) -> dict[str, Any]:
            self.calls.append((operation, params))
            wanted = (self.failing_write.operation, dict(self.failing_write.params))
            if (operation, params) == wanted and self.times > 0:
                self.times -= 1
                raise ClientError(
                    {"Error": {"Code": self.code, "Message": self.message}}, operation
                )
            return {}

        return call


def _retry(budget: float = 30.0) -> tuple[Any, list[float]]:
    from kops_iam.aws.iam_write import PropagationRetry

    slept: list[float] = []
    return PropagationRetry(budget_seconds=budget, sleep=slept.append), slept


CREATE = Write("create_role", {"RoleName": "r"})
CREATE_PROFILE = Write("create_instance_profile", {"InstanceProfileName": "p"})


def test_a_write_on_a_role_created_just_before_is_retried_until_iam_shows_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    put = Write("put_role_policy", {"RoleName": "r", "PolicyName": "x"})
    propagation, slept = _retry()
    iam = PropagatingIAM(put, times=3)
    with caplog.at_level("INFO", logger="kops-iam.iam"):
        assert execute(iam, [CREATE, put], propagation=propagation) == (CREATE, put)  # type: ignore[arg-type]
    assert slept == [0.5, 1.0, 2.0]
    assert caplog.messages[0] == (
        "IAM does not show what was just created yet; retrying put_role_policy r/x in 0.5 s: "
        "An error occurred (NoSuchEntity) when calling the put_role_policy operation: "
    )


def test_the_retries_stop_exactly_at_their_budget() -> None:
    # Given a budget of 1.5 s: waits of 0.5 and 1.0 fit it exactly, a third (2.0) would not
    put = Write("put_role_policy", {"RoleName": "r", "PolicyName": "x"})
    propagation, slept = _retry(budget=1.5)
    with pytest.raises(ConcurrentChange):
        execute(PropagatingIAM(put, times=3), [CREATE, put], propagation=propagation)  # type: ignore[arg-type]
    assert slept == [0.5, 1.0]
    propagation, slept = _retry(budget=1.5)
    assert execute(PropagatingIAM(put, times=2), [CREATE, put], propagation=propagation)  # type: ignore[arg-type]
    assert slept == [0.5, 1.0]


def test_only_what_this_call_created_is_waited_for() -> None:
    # A role not created in this call that IAM does not know has vanished: no wait
    other = Write("put_role_policy", {"RoleName": "other", "PolicyName": "x"})
    propagation, slept = _retry()
    with pytest.raises(ConcurrentChange):
        execute(PropagatingIAM(other, times=1), [CREATE, other], propagation=propagation)  # type: ignore[arg-type]
    assert slept == []
    # A profile created in this call is waited for, whichever role goes into it
    add = Write("add_role_to_instance_profile", {"InstanceProfileName": "p", "RoleName": "old"})
    propagation, slept = _retry()
    execute(PropagatingIAM(add, times=1), [CREATE_PROFILE, add], propagation=propagation)  # type: ignore[arg-type]
    assert slept == [0.5]


def test_everything_created_in_the_call_is_waited_for_and_no_other_profile() -> None:
    # Given a call that creates a role, its profile, then a second role (as for two kinds)
    created = [CREATE, CREATE_PROFILE, Write("create_role", {"RoleName": "r2"})]
    # When a later write on the first role, or on the profile, is not found at first
    for late in (
        Write("tag_role", {"RoleName": "r", "Tags": []}),
        Write("tag_instance_profile", {"InstanceProfileName": "p", "Tags": []}),
    ):
        propagation, slept = _retry()
        done = execute(PropagatingIAM(late, times=1), [*created, late], propagation=propagation)  # type: ignore[arg-type]
        # Then it is retried once and done
        assert done == (*created, late)
        assert slept == [0.5]
    # And a profile this call did not create, that IAM does not know, has vanished: no wait
    other = Write("tag_instance_profile", {"InstanceProfileName": "other", "Tags": []})
    propagation, slept = _retry()
    with pytest.raises(ConcurrentChange):
        execute(PropagatingIAM(other, times=1), [*created, other], propagation=propagation)  # type: ignore[arg-type]
    assert slept == []


@pytest.mark.parametrize(
    ("message", "retried"),
    [
        (f"The role with name {NODES} cannot be found.", True),
        ("Policy arn:aws:iam::123456789012:policy/p does not exist or is not attachable.", False),
    ],
)
def test_a_missing_policy_is_not_taken_for_a_role_iam_does_not_show_yet(
    message: str, retried: bool
) -> None:
    create = Write("create_role", {"RoleName": NODES})
    attach = Write("attach_role_policy", {"RoleName": NODES, "PolicyArn": "arn:p"})
    propagation, slept = _retry()
    iam = PropagatingIAM(attach, times=1, message=message)
    if retried:
        execute(iam, [create, attach], propagation=propagation)  # type: ignore[arg-type]
        assert slept == [0.5]
    else:
        with pytest.raises(WriteFailed):
            execute(iam, [create, attach], propagation=propagation)  # type: ignore[arg-type]
        assert slept == []


def test_a_cleanup_of_what_is_gone_is_logged_as_such(caplog: pytest.LogCaptureFixture) -> None:
    gone = Write("delete_role", {"RoleName": "r"})
    with caplog.at_level("INFO", logger="kops-iam.iam"):
        execute(RecordingIAM(gone, ClientError({"Error": {"Code": "NoSuchEntity"}}, "x")), [gone])  # type: ignore[arg-type]
    assert caplog.messages == ["already gone: delete_role r"]
