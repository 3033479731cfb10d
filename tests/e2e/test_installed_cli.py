"""``kops-iam`` as someone installs it: a wheel built from the project, in a fresh virtual
environment, run from an empty directory outside the checkout (docs/adr/0080).

The wheel is built from a copy of the working tree (setuptools writes ``build/`` and
``*.egg-info`` where it builds), then installed with pip from PyPI, pip's cache keeping it
quick: first without extras (the offline commands work, the demo says what to install),
then with the ``[local]`` extra (the demo runs on the embedded AWS). About a minute on a
busy 2-core machine (build ~11 s, the two installs and the demo ~48 s), so it runs in
``make test``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kops_iam_tools.demo import STEPS

ROOT = Path(__file__).resolve().parents[2]
#: Not part of a build: virtual environments, caches, outputs.
SKIP = (".git", ".venv", "node_modules", "cdk.out", ".cdk-home", "build", "*.egg-info")
SKIP_CACHES = ("__pycache__", ".mypy_cache", ".ruff_cache", ".hypothesis", ".pytest_cache")
#: pip's network patience: PyPI is reachable here, but say so quickly when it is not.
PIP = ("--disable-pip-version-check", "--quiet", "--timeout=30", "--retries=2")
#: Installs skip compiling every module to bytecode (botocore alone is thousands): the
#: commands compile what they import.
INSTALL = ("install", "--no-compile")


def _run(
    command: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def _pip(*args: str, cwd: Path) -> None:
    result = _run([sys.executable, "-m", "pip", *args, *PIP], cwd)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from (a copy of) the working tree."""
    base = tmp_path_factory.mktemp("wheel")
    source = base / "source"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*SKIP, *SKIP_CACHES))
    _pip("wheel", "--no-deps", "--wheel-dir", str(base / "dist"), str(source), cwd=base)
    [built] = (base / "dist").glob("kops_iam-*.whl")
    return built


def test_the_wheel_holds_the_two_packages_and_the_sample_specs(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()

    assert {name.split("/")[0] for name in names} == {
        "kops_iam",
        "kops_iam_tools",
        f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info",
    }
    shipped = {p.relative_to(ROOT / "events" / "specs").as_posix() for p in _specs()}
    assert {n.removeprefix("kops_iam_tools/samples/") for n in names if "/samples/" in n} == (
        shipped
    )


def _specs() -> list[Path]:
    return sorted((ROOT / "events" / "specs").rglob("*.yaml"))


def test_a_wheel_installed_kops_iam_works_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    # Given a fresh virtual environment with the wheel installed, no extra
    venv = tmp_path / "venv"
    created = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp_path)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    _pip("--python", str(python), *INSTALL, str(wheel), cwd=tmp_path)
    # And an empty directory, far from the checkout, and an environment that points nowhere
    # near it either
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PYTHON", "VIRTUAL_ENV", "PYTEST", "COV_"))
    }
    env |= {"PATH": f"{venv / 'bin'}:{env.get('PATH', '')}", "NO_COLOR": "1"}

    def kops_iam(*args: str) -> subprocess.CompletedProcess[str]:
        return _run([str(venv / "bin" / "kops-iam"), *args], empty, env, timeout=120)

    # When the shipped samples are validated there
    where = _run(
        [str(python), "-c", "import kops_iam_tools; print(kops_iam_tools.__file__)"], empty, env
    )
    samples = Path(where.stdout.strip()).parent / "samples"
    assert samples.is_relative_to(venv) and not samples.is_symlink()
    valid = sorted(str(p) for p in samples.glob("*.yaml"))
    # (as an operator who approved bastion-all-roles.yaml's SSM sessions, as the demo does)
    validated = kops_iam("validate", "--allow-action", "ssm:StartSession", *valid)

    # Then every one is ok, read from the installed package
    assert validated.returncode == 0, validated.stdout + validated.stderr
    shipped = sorted((ROOT / "events" / "specs").glob("*.yaml"))
    assert validated.stdout.count(": ok") == len(valid) == len(shipped) >= 4

    # When the demo or local runs without the emulator's extra
    for command in ("demo", "local"):
        missing = kops_iam(command)

        # Then it says what to install, without a traceback
        assert missing.returncode == 1
        assert "pip install 'kops-iam[local]'" in missing.stderr
        assert "Traceback" not in missing.stderr

    # When the extra is installed and the demo runs for a script
    _pip("--python", str(python), *INSTALL, f"{wheel}[local]", cwd=tmp_path)
    demo = kops_iam("demo", "--json")

    # Then stdout is one JSON document where every step did what it should
    assert demo.returncode == 0, demo.stderr[-3000:]
    document = json.loads(demo.stdout)
    assert document["ok"] is True
    assert [s["step"] for s in document["steps"]] == list(STEPS)
    assert "Traceback" not in demo.stderr
    # And nothing of the demo was left in the directory it ran from
    assert list(empty.iterdir()) == []


def test_in_a_checkout_the_packaged_samples_are_events_specs_itself() -> None:
    # The editable install reads the same files through the link: one copy of each.
    from kops_iam_tools.demo import packaged_samples

    link = ROOT / "tools" / "kops_iam_tools" / "samples"
    assert link.is_symlink() and link.readlink() == Path("../../events/specs")
    assert packaged_samples().resolve() == (ROOT / "events" / "specs").resolve()
