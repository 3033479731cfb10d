"""Golden files of the IAM diff: what IAM holds + the plan -> the writes and the audit diff.

Each case is a plan (or a gone cluster) and what IAM holds for its roles;
``tests/golden/iam-diff/<case>.json`` is what :func:`~kops_iam.aws.iam_diff.diff_cluster`
makes of it: every role's action, its writes in order with their parameters, the per-role
diff the audit event carries (trust policy, boundary, tags, inline and managed policies,
the instance profile) and the conflicts with their reasons. ``make golden`` rewrites them.
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from support.golden import GOLDEN, check, stale

from kops_iam.aws.iam_diff import diff_cluster
from kops_iam.aws.iam_read import LiveProfile, LiveRole, Observed
from kops_iam.domain.model import ClusterPlan, RoleKind, RolePlan
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
)
from kops_iam.domain.options import Approval

OUT = GOLDEN / "iam-diff"
CLUSTER = "c.k8s.example.com"
ACCOUNT = "123456789012"
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
OLD_TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "*"}
    ],
}
BOUNDARY = f"arn:aws:iam::{ACCOUNT}:policy/boundary"


def _doc(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


MAIN = _doc({"Effect": "Allow", "Action": ["ec2:Describe*"], "Resource": ["*"]})
EXTRA = _doc({"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::b/*"]})
WIDER = _doc(
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"], "Resource": ["*"]},
    {"Effect": "Deny", "Action": "iam:*", "Resource": "*"},
)


def _name(kind: RoleKind) -> str:
    return {"master": "masters", "node": "nodes", "bastion": "bastions"}[kind] + f".{CLUSTER}"


def _tags(kind: RoleKind, **extra: str) -> dict[str, str]:
    return {
        "KubernetesCluster": CLUSTER,
        "Name": _name(kind),
        f"kubernetes.io/cluster/{CLUSTER}": "owned",
        OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE,
        CLUSTER_TAG_KEY: CLUSTER,
        **extra,
    }


def _plan_role(kind: RoleKind, **changes: Any) -> RolePlan:
    name = _name(kind)
    values: dict[str, Any] = {
        "kind": kind,
        "role_name": name,
        "instance_profile_name": name,
        "assume_role_policy": TRUST,
        "permissions_boundary": None,
        "tags": _tags(kind),
        "managed_policy_arns": (),
        "inline_policies": {name: MAIN, f"additional.{name}": EXTRA},
    }
    values.update(changes)
    return RolePlan(**values)


def _plan(*roles: RolePlan) -> ClusterPlan:
    return ClusterPlan(CLUSTER, "aws", "eu-west-1", (), {r.kind: r for r in roles})


def _live(kind: RoleKind, **changes: Any) -> LiveRole:
    name = _name(kind)
    values: dict[str, Any] = {
        "name": name,
        "path": MANAGED_PATH,
        "trust": TRUST,
        "tags": _tags(kind),
        "boundary": None,
        "inline": {name: MAIN, f"additional.{name}": EXTRA},
        "managed": frozenset(),
    }
    values.update(changes)
    return LiveRole(**values)


def _profile(
    kind: RoleKind, roles: tuple[str, ...] | None = None, path: str = MANAGED_PATH, **tags: str
) -> LiveProfile:
    name = _name(kind)
    return LiveProfile(name, (name,) if roles is None else roles, tags or _tags(kind), path)


def _seen(role: LiveRole | None, profile: LiveProfile | None) -> Observed:
    return Observed(role=role, profile=profile)


FOREIGN = {"team": "platform"}
MANAGED = (f"arn:aws:iam::{ACCOUNT}:policy/a", f"arn:aws:iam::{ACCOUNT}:policy/b")

#: name -> (plan, observed, options of diff_cluster)
CASES: dict[str, tuple[ClusterPlan | None, dict[RoleKind, Observed], dict[str, Any]]] = {
    "create-everything": (
        _plan(
            _plan_role("master", permissions_boundary=BOUNDARY, managed_policy_arns=MANAGED),
            _plan_role("node"),
        ),
        {},
        {},
    ),
    "create-at-the-root-path": (_plan(_plan_role("node")), {}, {"path": "/"}),
    "another-clusters-role": (
        _plan(_plan_role("node")),
        {
            "node": _seen(
                _live("node", tags=_tags("node", **{CLUSTER_TAG_KEY: "x.example.com"})), None
            )
        },
        {},
    ),
    "another-clusters-role-when-gone": (
        None,
        {
            "node": _seen(
                _live("node", tags=_tags("node", **{CLUSTER_TAG_KEY: "x.example.com"})), None
            )
        },
        {},
    ),
    "a-role-without-cluster-tags": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", tags={OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE}), None)},
        {},
    ),
    "a-role-from-before-the-cluster-tag": (
        _plan(_plan_role("node")),
        {
            "node": _seen(
                _live(
                    "node", tags={k: v for k, v in _tags("node").items() if k != CLUSTER_TAG_KEY}
                ),
                _profile("node"),
            )
        },
        {},
    ),
    "a-root-path-role": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", path="/"), _profile("node", path="/"))},
        {},
    ),
    "a-root-path-role-managed": (
        _plan(_plan_role("node", tags=_tags("node", team="new"))),
        {"node": _seen(_live("node", path="/"), _profile("node", path="/"))},
        {"manage_root_path": True},
    ),
    "a-root-path-role-with-the-clis-wording": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", path="/"), _profile("node", path="/"))},
        {"approval": Approval(manage_root_path="--manage-root-path-roles")},
    ),
    "cluster-gone-root-path-managed": (
        None,
        {"node": _seen(_live("node", path="/"), _profile("node", path="/"))},
        {"manage_root_path": True},
    ),
    "a-role-at-another-path-with-root-managed": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", path="/elsewhere/"), None)},
        {"manage_root_path": True},
    ),
    "a-role-at-another-path": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", path="/elsewhere/"), None)},
        {},
    ),
    "unchanged": (
        _plan(_plan_role("master"), _plan_role("node")),
        {
            "master": _seen(_live("master"), _profile("master")),
            "node": _seen(_live("node"), _profile("node")),
        },
        {},
    ),
    "drift-everywhere": (
        _plan(
            _plan_role(
                "node",
                permissions_boundary=BOUNDARY,
                managed_policy_arns=MANAGED[:1],
                tags=_tags("node", team="new", added="yes"),
                inline_policies={_name("node"): WIDER},
            )
        ),
        {
            "node": _seen(
                _live(
                    "node",
                    trust=OLD_TRUST,
                    tags=_tags("node", team="old", stray="x", **{"aws:cloudformation:x": "y"}),
                    managed=frozenset(MANAGED[1:]),
                ),
                _profile("node", (), **_tags("node", stray="x")),
            )
        },
        {},
    ),
    "boundary-removed": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", boundary=BOUNDARY), _profile("node"))},
        {},
    ),
    "boundary-changed": (
        _plan(_plan_role("node", permissions_boundary=BOUNDARY)),
        {"node": _seen(_live("node", boundary=f"{BOUNDARY}-old"), _profile("node"))},
        {},
    ),
    "missing-profile": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node"), None)},
        {},
    ),
    "sixty-tags-to-add-and-remove": (
        _plan(_plan_role("node", tags=_tags("node", **{f"new{i:02d}": "v" for i in range(60)}))),
        {
            "node": _seen(
                _live("node", tags=_tags("node", **{f"old{i:02d}": "v" for i in range(60)})),
                _profile("node"),
            )
        },
        {},
    ),
    "foreign-role": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", tags=FOREIGN), None)},
        {},
    ),
    "foreign-role-adopted": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node", tags=FOREIGN), _profile("node", **FOREIGN))},
        {"adopt": True},
    ),
    "foreign-empty-profile": (
        _plan(_plan_role("node")),
        {"node": _seen(None, _profile("node", (), **FOREIGN))},
        {},
    ),
    "foreign-empty-profile-adopted": (
        _plan(_plan_role("node")),
        {"node": _seen(None, _profile("node", (), **FOREIGN))},
        {"adopt": True},
    ),
    "owned-empty-profile": (
        _plan(_plan_role("node")),
        {"node": _seen(None, _profile("node", ()))},
        {},
    ),
    "profile-holding-another-role": (
        _plan(_plan_role("node")),
        {"node": _seen(_live("node"), _profile("node", (_name("node"), "intruder")))},
        {},
    ),
    "cluster-gone": (
        None,
        {
            "master": _seen(
                _live("master", managed=frozenset(MANAGED), other_profiles=("spare",)),
                _profile("master"),
            ),
            "node": _seen(_live("node"), _profile("node", ("intruder", _name("node")))),
            "bastion": _seen(_live("bastion", tags=FOREIGN), None),
        },
        {},
    ),
    "cluster-gone-role-in-a-foreign-profile": (
        None,
        {"node": _seen(_live("node"), _profile("node", **FOREIGN))},
        {},
    ),
    "cluster-gone-foreign-profile-without-the-role": (
        None,
        {"node": _seen(_live("node"), _profile("node", (), **FOREIGN))},
        {},
    ),
    "cluster-gone-retained": (
        None,
        {"node": _seen(_live("node"), _profile("node"))},
        {"retain": True},
    ),
    "bastion-dropped-from-the-plan": (
        _plan(_plan_role("node")),
        {
            "node": _seen(_live("node"), _profile("node")),
            "bastion": _seen(_live("bastion", inline={}), _profile("bastion", ())),
        },
        {"retain": True},
    ),
}


def render(name: str) -> str:
    plan, observed, options = CASES[name]
    changes = diff_cluster(CLUSTER, plan, observed, **options)
    result = {
        "changed": changes.changed,
        "roles": [
            {
                **change.summary(),
                "writes": [{"operation": w.operation, **dict(w.params)} for w in change.writes],
            }
            for change in changes.roles
        ],
        "conflicts": [
            {"kind": c.kind, "roleName": c.role_name, "reason": c.reason} for c in changes.conflicts
        ],
        "auditSummaries": changes.summaries(),
    }
    return json.dumps(result, indent=2) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_state_of_iam_diffs_to_its_golden_writes(name: str) -> None:
    check(OUT / f"{name}.json", render(name))


def test_every_golden_diff_has_its_case() -> None:
    extra = stale(OUT, [OUT / f"{name}.json" for name in CASES], "*.json")
    assert not extra, f"golden files without a case (run `make golden`): {extra}"


def test_a_diff_is_the_same_whatever_order_iam_lists_things_in() -> None:
    # Given IAM's answers with every list and mapping in another order
    plan, observed, _ = CASES["drift-everywhere"]
    live = observed["node"].role
    assert live is not None and plan is not None
    shuffled = replace(
        live,
        tags=dict(reversed(list(live.tags.items()))),
        trust={**live.trust, "Statement": list(reversed(live.trust["Statement"]))},
    )
    again = diff_cluster(CLUSTER, plan, {"node": replace(observed["node"], role=shuffled)})
    # Then the writes and the diff are the same
    assert again == diff_cluster(CLUSTER, plan, observed)
