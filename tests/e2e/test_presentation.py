"""The local commands' presentation: colour rules, action grouping, tables, diffs."""

from __future__ import annotations

import io
import re

import pytest

from kops_iam_tools.demo import ClusterView, PolicyView, RoleView, Statement, statements_of
from kops_iam_tools.render import (
    Style,
    action_lines,
    audit_lines,
    change_lines,
    cluster_table,
    wants_colour,
)

ANSI = re.compile(r"\033\[[0-9;]*m")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("stream", "choice", "environ", "expected"),
    [
        (_Tty(), "auto", {}, True),
        (_Tty(), "auto", {"NO_COLOR": "1"}, False),
        (_Tty(), "auto", {"NO_COLOR": ""}, True),  # an empty NO_COLOR does not count
        (_Tty(), "auto", {"TERM": "dumb"}, False),
        (io.StringIO(), "auto", {}, False),  # not a terminal: a pipe, a file
        (io.StringIO(), "always", {"NO_COLOR": "1"}, True),
        (_Tty(), "never", {}, False),
    ],
    ids=["tty", "no-color", "empty-no-color", "dumb", "pipe", "always", "never"],
)
def test_colour_only_on_a_terminal_unless_no_color_or_told(
    stream: io.StringIO, choice: str, environ: dict[str, str], expected: bool
) -> None:
    assert wants_colour(stream, choice, environ) is expected  # type: ignore[arg-type]


def test_actions_are_grouped_by_service_and_deny_and_conditions_stand_out() -> None:
    # Given a policy with wildcards, a service with many actions, a Deny and a condition
    document = {
        "Statement": [
            {"Effect": "Allow", "Action": ["ec2:*", "route53:*"], "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": ["ecr:ListImages", "ecr:BatchGetImage", "ecr:DescribeRepositories"],
                "Resource": "*",
            },
            {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "ssm:StartSession",
                "Resource": "*",
                "Condition": {"Bool": {"aws:SecureTransport": "true"}},
            },
        ]
    }

    # When its actions are laid out for a narrow column
    lines = action_lines(statements_of(document), 40, Style(False))

    # Then wildcards share a line, a service's actions are listed once, sorted, and
    # Deny and conditions are marked
    assert lines[0] == "ec2:*  route53:*"
    assert lines[1] == "ecr: BatchGetImage DescribeRepositories"
    assert lines[2] == "     ListImages"
    assert lines[3] == "DENY s3:DeleteObject"
    assert lines[4] == "ssm:StartSession  (conditional)"
    assert all(len(line) <= 40 for line in lines)


def test_a_cluster_table_has_a_row_per_policy_and_fits_the_width() -> None:
    # Given a role with a main, an additional, a managed and a boundary policy
    role = RoleView(
        kind="node",
        name="nodes.example.k8s.dev",
        policies=(
            PolicyView("main", "nodes.example.k8s.dev", (Statement("Allow", ("ec2:*",), ("*",)),)),
            PolicyView(
                "additional",
                "additional.nodes.example.k8s.dev",
                (Statement("Allow", ("dynamodb:*", "es:*"), ("*",)),),
            ),
            PolicyView("managed", "extras"),
            PolicyView("boundary", "kops-boundary"),
        ),
        tags={},
        instance_profile=True,
    )

    # When it is rendered 72 columns wide, with colour
    lines = cluster_table(ClusterView("example.k8s.dev", (role,)), 72, Style(True))
    plain = [ANSI.sub("", line) for line in lines]

    # Then there is a header and one row per policy, none wider than the terminal
    assert plain[0].split() == ["ROLE", "POLICY", "ACTIONS"]
    assert plain[1].split() == ["nodes.example.k8s.dev", "main", "ec2:*"]
    assert plain[2].split() == ["additional", "dynamodb:*", "es:*"]
    assert plain[3].split() == ["managed", "extras"]
    assert plain[4].split() == ["boundary", "kops-boundary"]
    assert all(len(line) <= 72 for line in plain)
    assert any(ANSI.search(line) for line in lines)


def test_a_diff_shows_added_and_removed_actions_and_resources() -> None:
    changes = [
        {
            "kind": "node",
            "roleName": "nodes.c",
            "action": "update",
            "inlinePolicies": {
                "additional.nodes.c": {
                    "change": "modified",
                    "actions": {"added": ["sqs:SendMessage"], "removed": ["es:*"]},
                    "resources": {"added": ["arn:aws:sqs:eu-west-1:1:q"], "removed": []},
                }
            },
        },
        {"kind": "master", "roleName": "masters.gone", "action": "delete", "inlinePolicies": {}},
    ]

    lines = change_lines(changes, 80, Style(False))

    assert lines == [
        "~ role nodes.c (update)",
        "    policy additional.nodes.c modified",
        "      + sqs:SendMessage",
        "      - es:*",
        "      + resource arn:aws:sqs:eu-west-1:1:q",
        "- role masters.gone",
    ]


def test_audit_lines_summarise_each_outcome_within_the_width() -> None:
    audit = [
        {
            "detailType": "Spec Applied",
            "cluster": "a.example.com",
            "detail": {
                "detailType": "Spec Applied",
                "versionId": "0123456789abcdef",
                "summary": {"rolesCreated": 2, "writes": 9},
            },
        },
        {
            "detailType": "Spec Rejected",
            "cluster": "b.example.com",
            "detail": {"detailType": "Spec Rejected", "errors": [{"path": "x", "message": "y"}]},
        },
    ]

    wide = audit_lines(audit, 100, Style(False))
    narrow = audit_lines(audit, 62, Style(False))

    assert wide == [
        "Spec Applied   a.example.com  2 roles created · 9 IAM writes  version 01234567",
        "Spec Rejected  b.example.com  1 error, nothing written",
    ]
    # the object version goes first when room is short
    assert narrow[0] == "Spec Applied   a.example.com  2 roles created · 9 IAM writes"
    assert all(len(line) <= 62 for line in narrow)


def test_the_cluster_note_shows_only_the_specs_own_labels() -> None:
    from kops_iam_tools.render import cluster_note

    # Given a role carrying kops' tags, kops-iam's own tags and one cloudLabel
    tags = {
        "Name": "nodes.c.example.com",
        "KubernetesCluster": "c.example.com",
        "kubernetes.io/cluster/c.example.com": "owned",
        "kops-iam/managed-by": "kops-iam",
        "kops-iam/cluster": "c.example.com",
        "team": "platform",
    }
    role = RoleView("node", "nodes.c.example.com", (), tags, True, ("ec2.amazonaws.com",))
    # Then the note lists the label only
    note = cluster_note(ClusterView("c.example.com", (role,)))
    assert note.endswith("cloudLabels team=platform"), note
