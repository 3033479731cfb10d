"""The CLI's conventions for pipelines and CI (docs/cli.md): streams, JSON, annotations, lines.

``plan --detailed-exitcode`` and ``apply``'s confirmation run against IAM:
tests/integration/test_live_cli.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kops_iam.domain.errors import CODES, Issue
from kops_iam_tools.cli import COMMANDS, main
from kops_iam_tools.commands import findings
from kops_iam_tools.locate import Locator, Mark

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "events" / "specs"
EXAMPLE = SPECS / "kops-page-example.yaml"
STRICT = SPECS / "kops-1.8-strict.yaml"
BAD_EFFECT = SPECS / "invalid" / "bad-effect.yaml"


def _line_of(path: Path, text: str, after: int = 0) -> int:
    """1-based number of the first line of ``path`` from line ``after`` holding ``text``."""
    lines = path.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if n > after and text in line)


def test_render_of_a_bad_spec_into_a_file_leaves_the_file_empty(tmp_path: Path) -> None:
    # Given the shell pipeline `kops-iam render bad.yaml > out.json`
    out = tmp_path / "out.json"
    with out.open("w") as handle:
        result = subprocess.run(
            [sys.executable, "-m", "kops_iam_tools.cli", "render", str(BAD_EFFECT)],
            stdout=handle,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    # Then it exits 1, out.json is empty and the errors are on the terminal (stderr)
    assert result.returncode == 1
    assert out.read_text() == ""
    assert f"{BAD_EFFECT}: spec.additionalPolicies.node[0].Effect: " in result.stderr


def test_render_prints_warnings_on_stderr_and_only_the_plan_on_stdout(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a spec with a warning (an action newer than the catalogue)
    path = tmp_path / "c.yaml"
    path.write_text(EXAMPLE.read_text().replace('["es:*"]', '["es:*", "aidevops:GetAsset"]'))
    assert main(["render", str(path)]) == 0
    out, err = capsys.readouterr()
    # Then stdout is the plan alone, the warning is on stderr
    assert json.loads(out)["cluster"] == "example.k8s.dev"
    assert f"{path}: warning: spec.additionalPolicies.node[1].Action[1]: " in err
    # And with --json, stderr stays empty (the warnings are in the document)
    assert main(["render", str(path), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and json.loads(out)["warnings"]


def test_render_json_on_failure_is_validates_document(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", str(BAD_EFFECT), "--json"]) == 1
    render_out, render_err = capsys.readouterr()
    assert main(["validate", str(BAD_EFFECT), "--json"]) == 1
    assert (render_out, render_err) == (capsys.readouterr().out, "")


def test_validate_json_lists_every_error_with_path_message_code_line_and_column(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a valid spec and one with two errors
    two = SPECS / "invalid" / "action-and-notaction.yaml"
    # When validated with --json
    assert main(["validate", "--json", str(EXAMPLE), str(two)]) == 1
    out, err = capsys.readouterr()
    # Then stdout is one document, stderr is empty
    document = json.loads(out)
    assert err == ""
    assert document["ok"] is False
    ok, bad = document["files"]
    assert ok == {"file": str(EXAMPLE), "ok": True, "errors": [], "warnings": []}
    assert bad["file"] == str(two) and bad["ok"] is False
    # And each error has its path, message, code, and the line and column in the file
    statement_line = _line_of(two, '[{"Effect"')
    assert bad["errors"] == [
        {
            "path": "spec.additionalPolicies.node[0]",
            "message": "has both Action and NotAction; a statement takes exactly one of them",
            "code": "policy",
            "line": statement_line,
            "column": 8,
        },
        {
            "path": "spec.additionalPolicies.node[0].NotAction",
            "message": bad["errors"][1]["message"],
            "code": "escalation",
            "line": statement_line,
            "column": (two.read_text().splitlines()[statement_line - 1].index('"NotAction"') + 1),
        },
    ]


def test_validate_json_of_a_multi_document_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given kops' whole file (Cluster + InstanceGroups) behind a stray empty document,
    # with an error in the Cluster and one in the second InstanceGroup
    text = STRICT.read_text()
    text = text.replace("  networkCIDR: 172.20.0.0/16", "  networkCIDR: 172.20.0.0/33")
    text = text.replace("  role: Node", "  role: Worker")
    path = tmp_path / "cluster.yaml"
    path.write_text("---\n---\n" + text)
    # When validated with --json
    assert main(["validate", "--json", str(path)]) == 1
    errors = json.loads(capsys.readouterr().out)["files"][0]["errors"]
    # Then each is at its document (counted as the domain counts them) and its line
    found = {e["path"]: (e["code"], e["line"], e["column"]) for e in errors}
    assert found == {
        "documents[1].spec.networkCIDR": ("spec", _line_of(path, "networkCIDR"), 3),
        "documents[3].spec.role": ("documents", _line_of(path, "role: Worker"), 3),
    }


def test_validate_format_github_prints_annotations_at_the_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an invalid spec, a syntax error, and a spec whose message holds , : % and a newline
    broken = tmp_path / "broken.yaml"
    broken.write_text("metadata:\n  name: a\n spec: [\n")
    # When validated with --format github
    assert main(["validate", "--format", "github", str(BAD_EFFECT), str(broken)]) == 1
    out, err = capsys.readouterr()
    # Then stdout holds one workflow command per finding, at its line and column
    lines = out.splitlines()
    line = _line_of(BAD_EFFECT, '"Effect"')
    assert lines[0].startswith(
        f"::error file={BAD_EFFECT},line={line},col=9,title=kops-iam policy::"
        "spec.additionalPolicies.node[0].Effect: must be Allow or Deny, found 'Permit'"
    )
    assert re.fullmatch(
        rf"::error file={broken},line=3,col=\d+,title=kops-iam parse::invalid YAML at line 3.*",
        lines[1],
    )
    assert len(lines) == 2 and err == ""


def test_annotations_escape_what_github_reads_as_syntax() -> None:
    record = {
        "file": "a,b:c.yaml",
        "errors": [
            {"path": "", "message": "100% bad\nnext", "code": "parse", "line": None, "column": None}
        ],
        "warnings": [],
    }
    assert list(findings.github_annotations(record)) == [
        "::error file=a%2Cb%3Ac.yaml,title=kops-iam parse::100%25 bad%0Anext"
    ]


def test_validate_text_puts_only_the_verdicts_on_stdout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["validate", str(EXAMPLE), str(BAD_EFFECT)]) == 1
    out, err = capsys.readouterr()
    assert out == f"{EXAMPLE}: ok\n"
    assert err.startswith(f"{BAD_EFFECT}: spec.additionalPolicies.node[0].Effect: ")


# -- Locator: field paths to lines --------------------------------------------------------

LABELED = """\
apiVersion: kops.k8s.io/v1alpha2
kind: Cluster
metadata:
  name: a.example.com
spec:
  cloudLabels:
    kubernetes.io/role: x
    kubernetes: y
  subnets:
  - {name: a, zone: eu-west-1a}
  - name: b
    zone: eu-west-1b
  additionalPolicies:
    node: |
      [
        {"Effect": "Allow",
         "Action": ["s3:GetObject"]}
      ]
"""


@pytest.mark.parametrize(
    ("path", "mark"),
    [
        ("spec", Mark(5, 1)),
        ("spec.cloudLabels.kubernetes.io/role", Mark(7, 5)),  # a key with dots, longest match
        ("spec.cloudLabels.kubernetes", Mark(8, 5)),
        ("spec.subnets[0].zone", Mark(10, 15)),  # flow mapping
        ("spec.subnets[1].zone", Mark(12, 5)),
        ("spec.subnets[1].cidr", Mark(11, 5)),  # missing: the deepest field there is
        ("spec.subnets[7]", Mark(9, 3)),  # no such item: the list
        ("spec.additionalPolicies.node", Mark(14, 5)),
        ("spec.additionalPolicies.node[0].Action[0]", Mark(17, 21)),  # inside the block's JSON
        ("roles.node", None),  # not a field of the file
        ("documents[0].spec", None),  # a single-document file has no documents[N]
    ],
)
def test_locator_walks_a_field_path_down_the_nodes(path: str, mark: Mark | None) -> None:
    assert Locator(LABELED).find_path(path) == mark


def test_locator_takes_file_level_lines_from_the_message() -> None:
    locator = Locator(LABELED)
    duplicate = Issue("spec.x", "duplicate key 'x' (line 9), first at line 3", "parse")
    assert locator.find(duplicate) == Mark(9)
    syntax = Issue("", "invalid YAML at line 3, column 2: oops", "parse")
    assert locator.find(syntax) == Mark(3, 2)
    # A field's finding quoting a line of the JSON in a string is located by its path
    nested = Issue("spec.additionalPolicies.node", "is not valid JSON: x at line 2 column 3")
    assert locator.find(nested) == Mark(14, 5)


def test_locator_reads_json_specs_and_never_raises() -> None:
    text = '{\n  "metadata": {"name": "a"},\n  "spec": {"networkCIDR": "x"}\n}\n'
    assert Locator(text).find_path("spec.networkCIDR") == Mark(3, 12)
    for unreadable in (b"\xff\xfe", "a: [\n", "!!python/object:os.system x", "a: *nope"):
        assert Locator(unreadable).find_path("a") is None


def test_the_locator_never_constructs_tagged_objects() -> None:
    # Composing only: a tag naming Python code stays a tag on a node
    text = "spec: !!python/object/apply:os.system ['false']\n"
    assert Locator(text).find_path("spec") == Mark(1, 1)
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(text)


# -- the one table ------------------------------------------------------------------------


def test_one_table_documents_streams_and_exit_codes_of_every_command() -> None:
    # Given docs/cli.md's table of streams and exit codes
    page = (ROOT / "docs" / "cli.md").read_text()
    table = page[page.index("| command | stdout |") :].split("\n\n", 1)[0]
    # Then every command has its row, and the table names every exit code the CLI uses
    for command in COMMANDS:
        assert f"| `{command}" in table, command
    codes = {findings.OK, findings.FAILED, findings.USAGE, findings.CHANGES}
    codes |= {findings.INTERRUPTED, findings.PIPE_CLOSED}
    for code in codes:
        assert f"| {code} |" in page, code
    # And every finding code is explained
    for code in CODES:
        assert f"`{code}`" in page, code
