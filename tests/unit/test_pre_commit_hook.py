"""The ``kops-iam-validate`` pre-commit hook (.pre-commit-hooks.yaml, docs/cli.md).

``pre-commit try-repo`` builds the hook's virtualenv with pip from the package registry, so
it is not run here (ADR 54 says how it was checked by hand). These tests use pre-commit's
own code instead: its manifest schema, its file selection, and the hook's entry run on the
files pre-commit would pass.
"""

from __future__ import annotations

import shlex
import shutil
import tomllib
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pre_commit.clientlib import load_manifest
from pre_commit.commands.run import Classifier

from kops_iam_tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "events" / "specs"


@pytest.fixture(scope="module")
def hook() -> dict[str, Any]:
    [only] = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))  # pre-commit's own schema
    return dict(only)


def test_the_manifest_offers_kops_iam_validate_as_a_python_hook(hook: dict[str, Any]) -> None:
    assert hook["id"] == "kops-iam-validate"
    assert hook["language"] == "python"
    assert hook["pass_filenames"] is True
    # And its entry is the console script the package installs
    program, command = shlex.split(hook["entry"])
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert (program, command) == ("kops-iam", "validate")
    assert scripts[program] == "kops_iam_tools.cli:main"


def test_the_hook_selects_specs_and_its_entry_fails_on_the_invalid_one(
    hook: dict[str, Any],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a spec repository: a valid and an invalid spec under clusters/, other files
    (tmp_path / "clusters").mkdir()
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    shutil.copy(SPECS / "kops-page-example.yaml", tmp_path / "clusters" / "ok.yaml")
    shutil.copy(SPECS / "invalid" / "bad-effect.yaml", tmp_path / "clusters" / "bad.yaml")
    (tmp_path / "clusters" / "README.md").write_text("# specs\n")
    (tmp_path / ".github" / "workflows" / "ci.yaml").write_text("on: push\n")
    monkeypatch.chdir(tmp_path)
    staged = [
        "clusters/ok.yaml",
        "clusters/bad.yaml",
        "clusters/README.md",
        ".github/workflows/ci.yaml",
    ]
    # When pre-commit selects the files for the hook
    classifier = Classifier.from_config(staged, "", "^$")
    selected = list(classifier.filenames_for_hook(SimpleNamespace(**hook)))  # type: ignore[arg-type]
    # Then only the specs are passed
    assert selected == ["clusters/ok.yaml", "clusters/bad.yaml"]
    # And the entry, run as pre-commit runs it, fails naming the invalid file's error
    _, command = shlex.split(hook["entry"])
    assert main([command, *hook["args"], *selected]) == 1
    out, err = capsys.readouterr()
    assert out == "clusters/ok.yaml: ok\n"
    assert err.startswith("clusters/bad.yaml: spec.additionalPolicies.node[0].Effect: ")
