"""``kops-iam plan`` and ``kops-iam apply`` against IAM on moto (in-process)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from spec_builders import allow, spec
from support.world import World

from kops_iam_tools.cli import main

CLUSTER = "cli.k8s.example.com"
NODES = f"nodes.{CLUSTER}"


@pytest.fixture
def spec_file(tmp_path: Path) -> Path:
    path = tmp_path / "cluster.yaml"
    path.write_text(spec(CLUSTER, additional={"node": [allow("s3:GetObject")]}))
    return path


def test_apply_creates_then_plan_finds_nothing_to_do(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When the spec is applied
    code = main(["apply", str(spec_file), "--region", "us-east-1", "--yes"])

    # Then IAM has the roles and the output lists what was done
    out = capsys.readouterr().out
    assert code == 0
    assert world.role_names() == {f"masters.{CLUSTER}", NODES}
    assert f"create    {NODES} (node)" in out
    assert "+ action s3:GetObject" in out
    assert "IAM calls made" in out

    # When plan runs on the same spec
    before = world.snapshot()
    code = main(["plan", str(spec_file)])

    # Then it reports no changes and IAM is as it was
    assert code == 0
    assert "already matches" in capsys.readouterr().out
    assert world.snapshot() == before


def test_plan_shows_the_diff_and_writes_nothing(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given applied roles, and an edited spec
    assert main(["apply", str(spec_file), "--yes"]) == 0
    capsys.readouterr()
    spec_file.write_text(spec(CLUSTER, additional={"node": [allow("s3:PutObject")]}))
    before = world.snapshot()

    # When plan runs with --json
    code = main(["plan", str(spec_file), "--json"])

    # Then the diff is described and IAM is unchanged
    result = json.loads(capsys.readouterr().out)
    assert code == 0
    assert world.snapshot() == before
    assert result["status"] == "planned" and result["changed"] is True
    [change] = result["changes"]
    diff = change["inlinePolicies"][f"additional.{NODES}"]
    assert diff["actions"] == {"added": ["s3:PutObject"], "removed": ["s3:GetObject"]}
    assert result["writes"] == [f"put_role_policy {NODES}/additional.{NODES}"]


def test_an_invalid_spec_exits_1_with_every_error(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(spec(CLUSTER, additional={"node": [{"Effect": "Permit", "Action": "s3:*"}]}))
    code = main(["apply", str(path), "--yes"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert f"{path}: spec.additionalPolicies.node[0].Effect:" in err
    assert world.role_names() == set()


def test_a_foreign_role_is_refused(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}")
    code = main(["apply", str(spec_file), "--yes"])
    assert code == 1
    assert "roles.node: role" in capsys.readouterr().err
    assert world.role_names() == {NODES}


def test_adoption_is_an_explicit_flag(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}")
    assert main(["apply", str(spec_file), "--adopt-existing-roles", "--yes"]) == 0
    assert world.tags(NODES)["kops-iam/managed-by"] == "kops-iam"


def test_roles_kops_iam_made_at_the_root_path_need_an_explicit_flag(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a node role kops-iam created at path / before it used /kops-iam/ (ADR 61)
    tags = [
        {"Key": "kops-iam/managed-by", "Value": "kops-iam"},
        {"Key": "KubernetesCluster", "Value": CLUSTER},
    ]
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}", Tags=tags)
    # Then apply refuses it, saying how to go on, and writes nothing
    assert main(["apply", str(spec_file), "--yes"]) == 1
    err = capsys.readouterr().err
    assert "--manage-root-path-roles" in err and "manageRootPathRoles" not in err, err
    assert world.role_names() == {NODES}
    # And with the flag it is managed in place (and gets its cluster tag)
    assert main(["apply", str(spec_file), "--manage-root-path-roles", "--yes"]) == 0
    assert world.iam.get_role(RoleName=NODES)["Role"]["Path"] == "/"
    assert world.tags(NODES)["kops-iam/cluster"] == CLUSTER


def test_missing_credentials_are_a_message_not_a_traceback(
    spec_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given no credentials anywhere (and an endpoint nothing listens on)
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))

    # When plan runs
    code = main(
        ["plan", str(spec_file), "--endpoint-url", "http://127.0.0.1:9", "--region", "eu-west-1"]
    )

    # Then it exits 1 with a readable message
    err = capsys.readouterr().err
    assert code == 1
    assert "no AWS credentials" in err
    assert "Traceback" not in err


def test_an_unknown_profile_is_a_message(
    spec_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    code = main(["plan", str(spec_file), "--profile", "nope"])
    err = capsys.readouterr().err
    assert code == 1
    assert "nope" in err and "Traceback" not in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["apply"])
    assert exit_info.value.code == 2


def test_an_unreadable_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["plan", str(tmp_path / "missing.yaml")])
    assert code == 1
    assert "cannot read" in capsys.readouterr().err


# -- the conventions kops and Terraform users expect (docs/cli.md) -------------------------


class _Terminal(io.StringIO):
    """Standard input on a terminal, answering ``answer``."""

    def __init__(self, answer: str) -> None:
        super().__init__(answer)

    def isatty(self) -> bool:
        return True


def test_plan_detailed_exitcode_is_0_without_changes_2_with_1_on_errors(
    world: World, spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given no roles yet: the plan has changes
    assert main(["plan", str(spec_file), "--detailed-exitcode"]) == 2
    # Without the flag, a plan that ran is a success whatever it found
    assert main(["plan", str(spec_file)]) == 0
    # Once applied: no changes
    assert main(["apply", str(spec_file), "--yes"]) == 0
    assert main(["plan", str(spec_file), "--detailed-exitcode"]) == 0
    capsys.readouterr()
    assert main(["plan", str(spec_file), "--detailed-exitcode", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["changed"] is False
    # An invalid spec, and a usage error, are 1: never mistaken for "changes"
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec(CLUSTER, additional={"node": [{"Effect": "Permit", "Action": "s3:*"}]}))
    assert main(["plan", str(bad), "--detailed-exitcode"]) == 1
    assert main(["plan", str(spec_file), "--detailed-exitcode", "--bogus"]) == 1


def test_apply_without_a_terminal_and_without_yes_refuses_and_writes_nothing(
    world: World,
    spec_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given stdin that is not a terminal (a pipeline, CI)
    monkeypatch.setattr("sys.stdin", io.StringIO("yes\n"))
    # When apply runs without --yes
    code = main(["apply", str(spec_file)])
    # Then it refuses with the usage code, says what to do, and IAM is untouched
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert "not a terminal" in err and "--yes" in err
    assert world.role_names() == set()


def test_apply_shows_the_plan_and_asks_on_a_terminal(
    world: World,
    spec_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a terminal whose user answers "no"
    monkeypatch.setattr("sys.stdin", _Terminal("no\n"))
    # Then apply shows the plan and the question on stderr, writes nothing and exits 1
    assert main(["apply", str(spec_file)]) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert f"create    {NODES} (node)" in err and "Only 'yes' will be accepted" in err
    assert "Apply cancelled" in err
    assert world.role_names() == set()
    # When the user answers "yes"
    monkeypatch.setattr("sys.stdin", _Terminal("yes\n"))
    assert main(["apply", str(spec_file)]) == 0
    out, err = capsys.readouterr()
    # Then IAM is written, and stdout holds the result alone
    assert world.role_names() == {f"masters.{CLUSTER}", NODES}
    assert "IAM calls made" in out and "Only 'yes'" not in out
    # And with nothing to change it does not ask at all
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    assert main(["apply", str(spec_file)]) == 0
    assert "already matches" in capsys.readouterr().out


def test_json_is_one_document_on_stdout_whatever_happens(
    world: World, spec_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A rejected spec: the errors inside the document, with their lines; stderr empty
    bad = tmp_path / "bad.yaml"
    bad.write_text(spec(CLUSTER, additional={"node": [{"Effect": "Permit", "Action": "s3:*"}]}))
    assert main(["plan", str(bad), "--json"]) == 1
    out, err = capsys.readouterr()
    document = json.loads(out)
    assert err == ""
    assert document["status"] == "rejected" and document["reason"] == "invalid-spec"
    errors = {e["path"]: e for e in document["errors"]}
    error = errors["spec.additionalPolicies.node[0].Effect"]
    assert error["code"] == "policy" and isinstance(error["line"], int)
    # A foreign role: the reason is the code
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}")
    assert main(["apply", str(spec_file), "--json", "--yes"]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["reason"] == "foreign-role"
    assert [e["code"] for e in document["errors"]] == ["foreign-role"]
    # An AWS problem: a document too
    code = main(["plan", str(spec_file), "--json", "--endpoint-url", "http://127.0.0.1:9"])
    out, err = capsys.readouterr()
    assert code == 1 and json.loads(out)["status"] == "error" and err == ""
