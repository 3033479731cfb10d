"""``kops-iam validate`` / ``render`` of several files: role-name collisions among them,
offline (issue 10, docs/adr/0060)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from collisions import colliding_pair
from spec_builders import cluster_doc

from kops_iam.domain.naming import role_name
from kops_iam.domain.ownership import name_collisions
from kops_iam_tools.cli import main

FIRST, SECOND = colliding_pair("node")
SHARED = role_name("node", FIRST)


def _write(tmp_path: Path, name: str, cluster: str, **spec: object) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(cluster_doc(name=cluster, **spec)))
    return str(path)


def test_the_domain_finds_names_shared_by_different_clusters_only() -> None:
    roles = {
        FIRST: {"master": role_name("master", FIRST), "node": SHARED},
        SECOND: {"master": role_name("master", SECOND), "node": SHARED},
        "short.k8s.example.com": {"node": "nodes.short.k8s.example.com"},
    }
    [collision] = name_collisions(roles)
    assert collision.name == SHARED
    assert collision.holders == tuple(sorted([(FIRST, "node"), (SECOND, "node")]))
    assert name_collisions({FIRST: {"node": SHARED}}) == ()


@pytest.mark.parametrize("command", ["validate", "render"])
def test_colliding_clusters_are_an_error_of_both_files(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given two valid specs of different clusters whose node role names coincide
    a = _write(tmp_path, "a.json", FIRST)
    b = _write(tmp_path, "b.json", SECOND)
    # When both are checked together
    assert main([command, a, b]) == 1
    captured = capsys.readouterr()
    # Then each file gets the error at roles.node (on stderr), naming the shared name and
    # the other cluster, and the way out; nothing is rendered, no file is ok
    lines = [line for line in captured.err.splitlines() if line]
    assert len(lines) == 2, captured.err
    for path, other in ((a, SECOND), (b, FIRST)):
        [line] = [x for x in lines if x.startswith(f"{path}: roles.node: ")]
        assert SHARED in line and repr(other) in line and "rename one of the clusters" in line
    assert captured.out == ""


@pytest.mark.parametrize("command", ["validate", "render"])
def test_a_collision_has_its_own_finding_code_in_json(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path, "a.json", FIRST)
    b = _write(tmp_path, "b.json", SECOND)
    assert main([command, "--json", a, b]) == 1
    document = json.loads(capsys.readouterr().out)
    assert document["ok"] is False
    for record in document["files"]:
        [error] = record["errors"]
        assert (error["path"], error["code"]) == ("roles.node", "name-collision")


@pytest.mark.parametrize("command", ["validate", "render"])
def test_each_file_alone_is_fine(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for cluster in (FIRST, SECOND):
        assert main([command, _write(tmp_path, "x.json", cluster)]) == 0
    capsys.readouterr()


def test_only_kinds_both_clusters_have_collide(tmp_path: Path) -> None:
    # Given a pair whose bastion role names coincide, one of them without a bastion
    first, second = colliding_pair("bastion")
    with_bastion = {"topology": {"masters": "private", "nodes": "private", "bastion": {}}}
    a = _write(tmp_path, "a.json", first, **with_bastion)
    b = _write(tmp_path, "b.json", second)
    assert main(["validate", a, b]) == 0
    # Then with a bastion on both, they collide
    b = _write(tmp_path, "b.json", second, **with_bastion)
    assert main(["validate", a, b]) == 1


def test_render_of_several_files_prints_a_list_in_file_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path, "a.json", "a.k8s.example.com")
    b = _write(tmp_path, "b.json", "b.k8s.example.com")
    assert main(["render", a, b]) == 0
    rendered = json.loads(capsys.readouterr().out)
    assert [plan["cluster"] for plan in rendered] == ["a.k8s.example.com", "b.k8s.example.com"]


def test_validate_reports_each_file_in_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = _write(tmp_path, "good.json", "a.k8s.example.com")
    bad = _write(tmp_path, "bad.json", "b.k8s.example.com", cloudProvider="gce")
    assert main(["validate", good, bad, good]) == 1
    captured = capsys.readouterr()
    assert captured.out.splitlines() == [f"{good}: ok", f"{good}: ok"]
    assert captured.err.startswith(f"{bad}: spec.cloudProvider")


def test_the_same_cluster_in_two_files_is_no_collision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = _write(tmp_path, "a.json", FIRST)
    b = _write(tmp_path, "b.json", FIRST)
    assert main(["validate", a, b]) == 0
    capsys.readouterr()
