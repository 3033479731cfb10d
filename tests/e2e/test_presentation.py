"""The local commands' presentation, as a reader sees it: colour rules, action grouping,
tables, diffs, audit lines and ``kops-iam local``'s event lines, at fixed widths."""

from __future__ import annotations

import io
import re

import pytest

from kops_iam_tools.demo import ClusterView, PolicyView, RoleView, Statement, statements_of
from kops_iam_tools.emulator import Invocation
from kops_iam_tools.render import (
    actions,
    audit_table,
    changes,
    cluster_table,
    console,
    emit,
    errors,
    invocation_report,
    to_text,
    wants_colour,
)

ANSI = re.compile(r"\033\[[0-9;]*m")


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _lines(text: str) -> list[str]:
    return text.rstrip("\n").split("\n")


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


def test_without_colour_not_one_escape_sequence_is_written_even_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a terminal and an environment that would make Rich colour on its own
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLORTERM", "truecolor")
    out = _Tty()

    # When a coloured table is printed with colour off
    view = ClusterView(
        "c", (RoleView("node", "nodes.c", (PolicyView("boundary", "b"),), {}, True),)
    )
    emit(console(out, colour=False, width=80), cluster_table(view))

    # Then the text is all there, and nothing else: no escape, no trailing blank
    assert "\033" not in out.getvalue()
    assert _lines(out.getvalue()) == ["ROLE     POLICY      ACTIONS", "nodes.c  boundary    b"]


def test_with_colour_the_styles_are_basic_ansi_whatever_no_color_says(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")  # --color always wins over it
    text = to_text(audit_table([{"detailType": "Spec Applied", "cluster": "c"}]), 60, True)
    assert "\033[32mSpec Applied\033[0m" in text


def test_text_from_a_spec_is_printed_as_it_is_never_as_markup() -> None:
    # Given an error whose message looks like Rich markup and carries brackets
    issues = [{"path": "spec.x[0]", "message": "[bold red]not markup[/] :smile: [link=x]"}]

    # When it is printed, coloured
    text = ANSI.sub("", to_text(errors(issues), 100, True))

    # Then the reader sees exactly those characters
    assert text == "✗ spec.x[0]: [bold red]not markup[/] :smile: [link=x]\n"


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
    lines = _lines(to_text(actions(statements_of(document)), 36))

    # Then wildcards share a line, a service's actions are listed once, sorted, hanging
    # beside the service, and Deny and conditions are marked
    assert lines == [
        "ec2:*  route53:*",
        "ecr: BatchGetImage",
        "     DescribeRepositories ListImages",
        "DENY s3:DeleteObject",
        "ssm:StartSession  (conditional)",
    ]


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
    coloured = to_text(cluster_table(ClusterView("example.k8s.dev", (role,))), 72, True)
    plain = _lines(ANSI.sub("", coloured))

    # Then there is a header and one row per policy, none wider than the terminal
    assert plain[0].split() == ["ROLE", "POLICY", "ACTIONS"]
    assert plain[1].split() == ["nodes.example.k8s.dev", "main", "ec2:*"]
    assert plain[2].split() == ["additional", "dynamodb:*", "es:*"]
    assert plain[3].split() == ["managed", "extras"]
    assert plain[4].split() == ["boundary", "kops-boundary"]
    assert all(len(line) <= 72 for line in plain)
    assert ANSI.search(coloured)


def test_a_long_action_list_wraps_inside_its_column() -> None:
    many = tuple(f"ecr:Action{n:02d}" for n in range(12))
    view = ClusterView(
        "c",
        (
            RoleView(
                "node",
                "nodes.c",
                (PolicyView("main", "nodes.c", (Statement("Allow", many, ("*",)),)),),
                {},
                True,
            ),
        ),
    )

    lines = _lines(to_text(cluster_table(view), 72))

    column = lines[0].index("ACTIONS")
    assert lines[1][column:].startswith("ecr: Action00 Action01")
    assert all(len(line) <= 72 for line in lines)
    # continuation lines hang under the first action, beside the service
    assert all(line[: column + 5].strip() == "" for line in lines[2:])
    assert [word for line in lines[1:] for word in line[column:].split()] == [
        "ecr:",
        *(f"Action{n:02d}" for n in range(12)),
    ]


def test_a_diff_shows_added_and_removed_actions_and_resources() -> None:
    diff = [
        {
            "kind": "node",
            "roleName": "nodes.c",
            "action": "update",
            "inlinePolicies": {
                "additional.nodes.c": {
                    "change": "modified",
                    "actions": {
                        "added": ["sqs:SendMessage", "sqs:DeleteMessage"],
                        "removed": ["es:*"],
                    },
                    "resources": {"added": ["arn:aws:sqs:eu-west-1:1:q"], "removed": []},
                }
            },
            "tags": {"added": {"team": "a"}},
        },
        {
            "kind": "master",
            "roleName": "masters.gone",
            "action": "delete",
            "inlinePolicies": {"x": {}},
        },
    ]

    assert _lines(to_text(changes(diff), 80)) == [
        "~ role nodes.c (update)",
        "    policy additional.nodes.c modified",
        "      + sqs:SendMessage  sqs:DeleteMessage",
        "      - es:*",
        "      + resource arn:aws:sqs:eu-west-1:1:q",
        "    + tag team=a",
        "- role masters.gone, 1 inline policy",
    ]


AUDIT = [
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


def test_audit_lines_summarise_each_outcome_with_its_object_version() -> None:
    assert _lines(to_text(audit_table(AUDIT, 100), 100)) == [
        "Spec Applied   a.example.com  2 roles created · 9 IAM writes  version 01234567",
        "Spec Rejected  b.example.com  1 error, nothing written",
    ]


def test_audit_lines_leave_the_object_version_out_when_room_is_short() -> None:
    narrow = _lines(to_text(audit_table(AUDIT, 62), 62))

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


def _invocation(**fields: object) -> Invocation:
    event = {"Records": [{"eventName": "ObjectCreated:Put"}]}
    return Invocation(
        **{"request_id": "r", "event": event, "attempt": 1, "seconds": 0.25, **fields}
    )  # type: ignore[arg-type]


def test_a_local_event_line_names_time_outcome_cluster_summary_and_trigger() -> None:
    audit = [
        AUDIT[1] | {"detail": {**AUDIT[1]["detail"], "errors": [{"path": "p", "message": "m"}]}}
    ]  # type: ignore[dict-item]

    lines = _lines(to_text(invocation_report(_invocation(), audit, "12:00:00", 100), 100))

    assert lines == [
        "12:00:00  Spec Rejected  b.example.com  1 error, nothing written"
        "  ← S3 ObjectCreated:Put, 0.25 s",
        "          ✗ p: m",
    ]


def test_a_local_event_line_puts_the_trigger_on_its_own_line_when_narrow() -> None:
    lines = _lines(to_text(invocation_report(_invocation(), AUDIT[:1], "12:00:00", 72), 72))

    assert lines[0] == "12:00:00  Spec Applied  a.example.com  2 roles created · 9 IAM writes"
    assert lines[1] == "          ← S3 ObjectCreated:Put, 0.25 s"


def test_a_failed_local_invocation_says_whether_lambda_retries_it() -> None:
    first = _lines(to_text(invocation_report(_invocation(error="Boom: x"), [], "t", 100), 100))
    last = _lines(
        to_text(invocation_report(_invocation(error="Boom: x", attempt=3), [], "t", 100), 100)
    )

    assert first[0].startswith("t  invocation failed  Boom: x  ← S3 ObjectCreated:Put")
    assert first[1] == "   Lambda retries it (1/3)"
    assert last[1] == "   last attempt: the event goes to kops-iam-failed-events"


def test_wide_characters_are_measured_in_terminal_cells() -> None:
    # Given a cluster name of double-width characters: 10 characters, 20 cells
    audit = [{"detailType": "Spec Applied", "cluster": "漢" * 10, "detail": {}}]

    # When its event line is laid out where characters would fit but cells do not
    lines = _lines(to_text(invocation_report(_invocation(), audit, "t", 100), 100))

    # Then the trigger moves to a line of its own rather than past the edge
    assert lines[1].strip() == "← S3 ObjectCreated:Put, 0.25 s"
