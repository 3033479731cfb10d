"""``kops-iam demo`` (``make demo``) as a newcomer and a script run it."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

from kops_iam.aws.audit import DetailType

ROOT = Path(__file__).resolve().parents[2]
#: The promise: under a minute after installation.
BUDGET_SECONDS = 60.0
STEPS = ["upload", "bastion", "edit", "reject", "delete", "drift"]


def _demo(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kops_iam_tools.cli", "demo", *args],
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=BUDGET_SECONDS * 2,
    )


def test_demo_json_is_one_document_where_every_step_did_what_it_should() -> None:
    # When a script runs the demo with --json
    started = time.monotonic()
    result = _demo("--json")
    elapsed = time.monotonic() - started

    # Then it exits 0 within the budget, with one JSON document on stdout and nothing else
    assert result.returncode == 0, result.stderr
    assert elapsed < BUDGET_SECONDS
    assert result.stderr == ""
    document = json.loads(result.stdout)
    assert document["ok"] is True
    assert document["endpoint"].startswith("http://127.0.0.1:")
    steps = {s["step"]: s for s in document["steps"]}
    assert list(steps) == STEPS
    assert all(s["ok"] for s in steps.values())

    # And each step carries the audit events it produced, read from the tail queue
    def types(step: str) -> list[str]:
        return [a["detailType"] for a in steps[step]["audit"]]

    assert types("upload") == [DetailType.SPEC_APPLIED] * 4
    assert {c["cluster"] for c in steps["upload"]["iam"]} == {
        "example.k8s.dev",
        "prod.k8s.example.com",
        "staging.k8s.example.com",
        "cn.k8s.example.cn",
    }
    assert types("edit") == [DetailType.SPEC_APPLIED]
    [change] = steps["edit"]["audit"][0]["detail"]["changes"]
    [(policy, diff)] = change["inlinePolicies"].items()
    assert policy == "additional.nodes.example.k8s.dev"
    assert diff["actions"]["removed"] == ["es:*"]
    assert types("reject") == [DetailType.SPEC_REJECTED]
    assert len(steps["reject"]["errors"]) == 2
    assert steps["reject"]["facts"]["iamUnchanged"] is True
    # And the bastion InstanceGroup, added next to a Cluster, gave it a bastions role
    assert types("bastion") == [DetailType.SPEC_APPLIED]
    [prod] = steps["bastion"]["iam"]
    assert [r["kind"] for r in prod["roles"]] == ["master", "node", "bastion"]
    assert types("delete") == [DetailType.CLUSTER_DELETED]
    assert steps["delete"]["iam"] == [{"cluster": "cn.k8s.example.cn", "roles": []}]
    assert DetailType.DRIFT_CORRECTED in types("drift")
    assert steps["drift"]["facts"]["handMadeStatementGone"] is True


def test_demo_on_a_terminal_prints_tables_and_no_colour_when_no_color_is_set() -> None:
    # Given a terminal (a pseudo-terminal) and NO_COLOR set
    primary, secondary = pty.openpty()
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "110", "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [sys.executable, "-m", "kops_iam_tools.cli", "demo", "--delivery", "eventbridge"],
        cwd=ROOT,
        env=env,
        stdout=secondary,
        stderr=subprocess.PIPE,
    )
    os.close(secondary)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError:  # the terminal closed: the demo is done
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(primary)
    code = process.wait(timeout=BUDGET_SECONDS)
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    output = b"".join(chunks).decode().replace("\r\n", "\n")

    # Then it exits 0, with no escape sequence at all, and reads as a report
    assert code == 0, stderr
    _reads_as_a_report(output, stderr, width=110)


def test_demo_into_a_pipe_prints_the_same_report_without_colour() -> None:
    # Given a pipe (not a terminal), a terminal type that has colours, and no NO_COLOR
    env = {"COLUMNS": "100", "TERM": "xterm-256color", "NO_COLOR": ""}

    # When the demo writes into it
    result = _demo(env=env)

    # Then it exits 0 with the plain report: colour is for terminals only
    assert result.returncode == 0, result.stderr
    _reads_as_a_report(result.stdout, result.stderr, width=100)


def _reads_as_a_report(output: str, stderr: str, width: int) -> None:
    """Numbered steps, role tables, errors, a diff, a verdict, within ``width`` columns;
    no escape sequence, no trailing blank, no traceback."""
    assert "\033[" not in output
    # And it reads as a report: numbered steps, role tables, errors, a diff, a verdict
    for heading in ("1/6", "2/6", "3/6", "4/6", "5/6", "6/6", "done in"):
        assert heading in output
    assert "ROLE" in output and "POLICY" in output and "ACTIONS" in output
    assert "masters.example.k8s.dev" in output
    assert "additional  dynamodb:*  es:*" in output
    assert "✗ spec.additionalPolicies.node[0]" in output
    assert "- es:*" in output
    assert "Every step did what it should." in output
    assert all(line == line.rstrip() for line in output.splitlines())
    assert all(len(line) <= width for line in output.splitlines())
    assert "Traceback" not in stderr
