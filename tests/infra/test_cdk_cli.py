"""The CDK CLI works as the deploy docs say: from the project root, after `make install`,
with no virtualenv activated and only the system's directories on the PATH."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"


def _cdk(
    args: list[str], tmp_path: Path, path: str = "/usr/bin:/bin"
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": path,
        "HOME": str(tmp_path),
        "CDK_HOME": str(tmp_path / "cdk-home"),
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DISABLE_VERSION_CHECK": "1",
        "npm_config_update_notifier": "false",
    }
    return subprocess.run(
        ["npx", "--no-install", "cdk", *args, "--no-notices"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def cli_installed() -> None:
    if not CDK.exists():  # `make test` installs it (npm ci); a bare pytest run may not have
        pytest.skip("the CDK CLI is not installed: run `make test` (or npm ci)")
    if not Path("/usr/bin/npx").exists():
        pytest.skip("Node.js is not in /usr/bin on this machine")


def test_the_app_runs_through_the_projects_virtualenv_with_a_bare_path(
    cli_installed: None, tmp_path: Path
) -> None:
    # Given only /usr/bin and /bin on the PATH (no virtualenv, no `python` with aws_cdk)
    # When `npx cdk ls` runs the app command of cdk.json
    result = _cdk(["ls"], tmp_path)
    # Then the app ran (cdk-nag included) and listed the one stack
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["KopsIam"]


def test_without_the_virtualenv_the_app_command_says_what_to_run(tmp_path: Path) -> None:
    # Given the app command run from a copy of the project without .venv
    script = (ROOT / "scripts" / "cdk-app").read_text()
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "cdk-app").write_text(script)
    result = subprocess.run(
        ["sh", str(tmp_path / "scripts" / "cdk-app")],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
    )
    # Then it fails with the set-up step to run, not a Python traceback or exit 127
    assert result.returncode == 1
    assert "run 'make install' first" in result.stderr
    assert "Traceback" not in result.stderr


def test_make_passes_the_context_to_every_cdk_command() -> None:
    # Given a context on the command line, When make prints what it would run
    for target in ("diff", "deploy", "destroy", "synth"):
        result = subprocess.run(
            ["make", "-n", target, "CONTEXT=-c kops-iam:mode=plan"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ},
        )
        # Then the cdk command carries it, quiet and offline-friendly
        line = next(text for text in result.stdout.splitlines() if "cdk " in text)
        assert f"cdk {target}" in line and "-c kops-iam:mode=plan" in line, line
        assert "--no-notices" in line
