"""The CLI contract: ``validate`` and ``render`` output, exit codes, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kops_iam_tools.cli import main

SPECS = Path(__file__).resolve().parents[2] / "events" / "specs"
EXAMPLE = str(SPECS / "kops-page-example.yaml")
INVALID = str(SPECS / "invalid" / "bad-effect.yaml")


def test_validate_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", EXAMPLE]) == 0
    assert capsys.readouterr().out == f"{EXAMPLE}: ok\n"


def test_validate_reports_each_error_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", EXAMPLE, INVALID]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{EXAMPLE}: ok"
    assert lines[1].startswith(f"{INVALID}: spec.additionalPolicies.node[0].Effect: ")


def test_validate_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = (SPECS / "kops-page-example.yaml").read_text() + (
        "  etcdClusters:\n  - name: main\n    etcdMembers:\n    - name: a\n"
        "      kmsKeyId: alias/etcd\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(spec)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{path}: warning: spec.etcdClusters[0].etcdMembers[0].kmsKeyId: ")
    assert out[-1] == f"{path}: ok"


def test_render_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", EXAMPLE]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"cluster", "partition", "region", "warnings", "roles"}
    assert set(result["roles"]) == {"master", "node"}
    node = result["roles"]["node"]
    assert set(node) == {
        "roleName",
        "instanceProfileName",
        "assumeRolePolicy",
        "permissionsBoundary",
        "tags",
        "managedPolicyArns",
        "inlinePolicies",
    }
    assert node["permissionsBoundary"] is None
    assert list(node["inlinePolicies"]) == [
        "nodes.example.k8s.dev",
        "additional.nodes.example.k8s.dev",
    ]


def test_render_invalid_same_as_validate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", INVALID]) == 1
    validated = capsys.readouterr().out
    assert main(["render", INVALID]) == 1
    assert capsys.readouterr().out == validated


def test_allow_action_is_an_operator_flag(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS / "invalid" / "escalation-passrole.yaml")
    assert main(["render", spec]) == 1
    capsys.readouterr()
    assert main(["render", spec, "--allow-action", "iam:PassRole"]) == 0
    rendered = json.loads(capsys.readouterr().out)
    additional = rendered["roles"]["node"]["inlinePolicies"][
        "additional.nodes.broken.k8s.example.com"
    ]
    assert additional["Statement"][0]["Action"] == ["iam:PassRole"]


def test_account_id_flag(capsys: pytest.CaptureFixture[str]) -> None:
    china = str(SPECS / "china-region.yaml")
    assert main(["render", china]) == 1
    assert "--account-id" in capsys.readouterr().out
    assert main(["render", china, "--account-id", "123456789012"]) == 0


@pytest.mark.parametrize(
    "argv",
    [[], ["validate"], ["render"], ["nope"], ["render", "--bogus", "x"]],
)
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_missing_file_is_an_error_not_a_traceback(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/spec.yaml"]) == 1
    assert capsys.readouterr().out.startswith("/nonexistent/spec.yaml: cannot read")


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=2048) | st.text(max_size=512).map(str.encode))
def test_arbitrary_bytes_never_traceback(
    data: bytes, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "spec"
    path.write_bytes(data)
    for command in ("validate", "render"):
        code = main([command, str(path)])
        out, err = capsys.readouterr()
        assert code in (0, 1)
        assert "Traceback" not in out + err
        if code == 1:
            assert out.startswith(f"{path}: ")


def test_validate_checks_policy_size_offline(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS / "invalid" / "policy-too-large.yaml")
    assert main(["validate", spec]) == 1
    out = capsys.readouterr().out
    assert out.startswith(
        f"{spec}: spec.additionalPolicies.node: role nodes.broken.k8s.example.com: "
    )
    assert "10,240" in out


def test_validate_needs_no_account_or_kms(capsys: pytest.CaptureFixture[str]) -> None:
    # The China sample uses a bare key id: render needs --account-id, validate does not.
    assert main(["validate", str(SPECS / "china-region.yaml")]) == 0


def test_lone_surrogates_print_without_traceback(tmp_path: Path) -> None:
    # Given a JSON spec whose label key is a lone surrogate (valid JSON, not encodable UTF-8)
    path = tmp_path / "spec.json"
    path.write_text(
        '{"metadata": {"name": "a.example.com"}, "spec": {"cloudLabels": {"\\ud800": "x"}}}'
    )
    # When the real process prints the error
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-m", "kops_iam_tools.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    # Then it exits 1 with the field named, and no traceback
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "spec.cloudLabels." in result.stdout


def test_closed_pipe_ends_quietly() -> None:
    # Given render writing into a pipe whose reader is gone before it writes (import takes
    # far longer than closing a file descriptor)
    import subprocess
    import sys

    process = subprocess.Popen(
        [sys.executable, "-m", "kops_iam_tools.cli", "render", EXAMPLE],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()
    stderr = process.stderr.read().decode()
    # Then it stops with SIGPIPE's conventional status, and no traceback
    assert process.wait(timeout=60) == 141
    assert "Traceback" not in stderr, stderr
