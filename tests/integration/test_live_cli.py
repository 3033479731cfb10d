"""``kops-iam plan`` and ``kops-iam apply`` against IAM on moto (in-process)."""

from __future__ import annotations

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
    code = main(["apply", str(spec_file), "--region", "us-east-1"])

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
    assert main(["apply", str(spec_file)]) == 0
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
    code = main(["apply", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{path}: spec.additionalPolicies.node[0].Effect:" in out
    assert world.role_names() == set()


def test_a_foreign_role_is_refused(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}")
    code = main(["apply", str(spec_file)])
    assert code == 1
    assert "roles.node: role" in capsys.readouterr().out
    assert world.role_names() == {NODES}


def test_adoption_is_an_explicit_flag(
    world: World, spec_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    world.iam.create_role(RoleName=NODES, AssumeRolePolicyDocument="{}")
    assert main(["apply", str(spec_file), "--adopt-existing-roles"]) == 0
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
    assert main(["apply", str(spec_file)]) == 1
    assert "manageRootPathRoles" in capsys.readouterr().out
    assert world.role_names() == {NODES}
    # And with the flag it is managed in place (and gets its cluster tag)
    assert main(["apply", str(spec_file), "--manage-root-path-roles"]) == 0
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
