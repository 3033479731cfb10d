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
    out, err = capsys.readouterr()
    assert out == f"{EXAMPLE}: ok\n"
    assert err.startswith(f"{INVALID}: spec.additionalPolicies.node[0].Effect: ")


def test_validate_prints_warnings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = (SPECS / "kops-page-example.yaml").read_text() + (
        "  etcdClusters:\n  - name: main\n    etcdMembers:\n    - name: a\n"
        "      kmsKeyId: alias/etcd\n"
    )
    path = tmp_path / "c.yaml"
    path.write_text(spec)
    assert main(["validate", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err.startswith(f"{path}: warning: spec.etcdClusters[0].etcdMembers[0].kmsKeyId: ")
    assert out == f"{path}: ok\n"


def test_render_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", EXAMPLE]) == 0
    result = json.loads(capsys.readouterr().out)
    assert set(result) == {"cluster", "partition", "region", "iamMode", "warnings", "roles"}
    assert result["iamMode"] == "legacy"
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
    validated = capsys.readouterr().err
    assert main(["render", INVALID]) == 1
    out, err = capsys.readouterr()
    assert (out, err) == ("", validated)


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
    assert "--account-id" in capsys.readouterr().err
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
    assert capsys.readouterr().err.startswith("/nonexistent/spec.yaml: cannot read")


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
            assert out == "" and err.startswith(f"{path}: ")


def test_validate_checks_policy_size_offline(capsys: pytest.CaptureFixture[str]) -> None:
    spec = str(SPECS / "invalid" / "policy-too-large.yaml")
    assert main(["validate", spec]) == 1
    out = capsys.readouterr().err
    # (these statements alone exceed the limit: reported with any other error there is)
    assert out.startswith(f"{spec}: spec.additionalPolicies.node: these statements alone take ")
    assert "over IAM's 10,240 limit" in out


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
    assert "spec.cloudLabels." in result.stderr


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


@pytest.mark.parametrize("command", ["validate", "render", "plan", "apply"])
def test_every_cli_flag_of_the_settings_table_is_an_option_of_the_command(command: str) -> None:
    # Given the settings table's CLI flags, When the command's help is printed
    from kops_iam.application.settings import SETTING, SETTINGS
    from kops_iam_tools.cli import build_parser

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    help_text = subparsers.choices[command].format_help()  # type: ignore[union-attr]
    # Then each flag the table gives a spec-checking option is there, with its description
    live_only = {"adopt_existing_roles", "manage_root_path_roles"}  # about live IAM
    for setting in SETTINGS:
        if setting.flag and setting.name not in live_only:
            assert setting.flag in help_text, (command, setting.flag)
    for name in live_only:
        assert (SETTING[name].flag in help_text) == (command in ("plan", "apply")), name


def test_the_cli_allows_a_managed_policy_only_when_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a spec attaching a managed policy to the nodes
    arn = "arn:aws:iam::111122223333:policy/extras"
    text = Path(EXAMPLE).read_text()
    path = tmp_path / "c.yaml"
    path.write_text(text.replace("spec:\n", f"spec:\n  externalPolicies:\n    node: [{arn}]\n", 1))
    # When validated offline without a list, or with a list that holds it: accepted
    assert main(["validate", str(path)]) == 0
    assert main(["validate", str(path), "--allow-managed-policy", arn]) == 0
    capsys.readouterr()
    # Then a list that does not hold it refuses it, naming the flag to use
    assert main(["validate", str(path), "--allow-managed-policy", arn + "2"]) == 1
    assert f"--allow-managed-policy {arn}" in capsys.readouterr().err


def test_names_newer_than_the_catalogue_follow_the_operators_flags(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a spec whose node policy names an action newer than the catalogue
    text = Path(EXAMPLE).read_text().replace('["es:*"]', '["es:*", "aidevops:GetAsset"]')
    path = tmp_path / "c.yaml"
    path.write_text(text)
    # When validated with the defaults: accepted, with a warning naming the way on
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().err
    assert f"{path}: warning: spec.additionalPolicies.node[1].Action[1]: " in out
    assert "--known-action aidevops:GetAsset" in out
    # With --unknown-actions error: refused, naming the flags
    assert main(["validate", str(path), "--unknown-actions", "error"]) == 1
    out = capsys.readouterr().err
    assert "(--unknown-actions error)" in out and "--known-action aidevops:GetAsset" in out
    # With the action declared known: accepted without a warning, even when strict
    known = ["--known-action", "aidevops:GetAsset"]
    assert main(["validate", str(path), "--unknown-actions", "error", *known]) == 0
    assert capsys.readouterr().out == f"{path}: ok\n"


STRICT = str(SPECS / "kops-1.8-strict.yaml")


def test_render_a_whole_kops_file_in_strict_mode(capsys: pytest.CaptureFixture[str]) -> None:
    # Given what kops get cluster -o yaml prints (Cluster and InstanceGroups, iam block)
    assert main(["render", STRICT]) == 0
    result = json.loads(capsys.readouterr().out)
    # Then its InstanceGroups decide the roles, and the policies are kops 1.8.0's strict ones
    assert result["iamMode"] == "strict"
    assert list(result["roles"]) == ["master", "node", "bastion"]


def test_render_says_which_lookup_a_strict_spec_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a strict spec naming neither its hosted zone id nor its state store
    text = Path(STRICT).read_text().replace("  dnsZone: Z1D633PJN98FT9\n", "")
    text = text.replace("  configBase: s3://example-kops-state/strict.k8s.example.com\n", "")
    path = tmp_path / "strict.yaml"
    path.write_text(text)
    # Then render says what it needs, at the fields (validate needs nothing)
    assert main(["render", str(path)]) == 1
    out = capsys.readouterr().err
    assert f"{path}: documents[0].spec.dnsZone: " in out and "--hosted-zone-id" in out
    assert f"{path}: documents[0].spec.configBase: " in out and "--config-base" in out
    assert main(["validate", str(path)]) == 0
    capsys.readouterr()
    # And renders once given them
    argv = ["render", str(path), "--hosted-zone-id", "ZONE1", "--config-base", "s3://bkt/c"]
    assert main(argv) == 0
    master = json.loads(capsys.readouterr().out)["roles"]["master"]
    statements = master["inlinePolicies"]["masters.strict.k8s.example.com"]["Statement"]
    resources = {r for s in statements for r in s["Resource"]}
    assert {"arn:aws:route53:::hostedzone/ZONE1", "arn:aws:s3:::bkt"} <= resources
    # And a state store that cannot become an ARN is refused
    assert main([*argv[:-1], "s3://b/c"]) == 1
    assert "spec.configBase: 's3://b/c/' is not an s3://bucket/path URL" in capsys.readouterr().err
