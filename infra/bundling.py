"""The Lambda asset: ``functions/kops_iam`` plus its runtime dependencies, built without Docker.

CDK's local bundling hook runs ``pip`` on this machine for the function's platform
(``manylinux2014_<arch>`` wheels for the runtime's Python version, binary only), so
``cdk synth`` needs neither Docker nor the target Python, only PyPI. The dependencies are
the function's, ``functions/requirements.txt`` (not the tools', docs/adr/0080), minus the AWS
SDK the Lambda runtime already carries (see docs/adr/0011: bundling boto3/botocore would
triple the asset).

The bundle carries bytecode compiled by the runtime's own Python version when this machine
has that interpreter (``python3.13``): ``/var/task`` is read-only, so without it every cold
start compiles kops_iam, pydantic, Powertools and PyYAML from source (docs/adr/0118).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

ROOT: Final = Path(__file__).resolve().parent.parent
#: Asset root: the Lambda's ``/var/task`` holds what is under here (the ``kops_iam`` package).
FUNCTIONS_DIR: Final = ROOT / "functions"
PACKAGE: Final = "kops_iam"
#: The function's runtime dependencies, one requirement a line (the tools' are elsewhere).
REQUIREMENTS: Final = FUNCTIONS_DIR / "requirements.txt"

#: Distributions every AWS Lambda Python runtime already provides (boto3 and its closure).
RUNTIME_PROVIDED: Final = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "urllib3", "python-dateutil", "six"}
)
#: Upper bound on the unzipped asset; synth fails beyond it (cold start, upload size).
MAX_BUNDLE_BYTES: Final = 20 * 1024 * 1024
#: Not part of the asset (source hashing and the local bundle copy both skip these).
EXCLUDE: Final = ("*.egg-info", "**/__pycache__", "**/*.pyc")

_ARCH_PLATFORM: Final = {"arm64": "manylinux2014_aarch64", "x86_64": "manylinux2014_x86_64"}
#: Environment variable naming the interpreter that compiles the bundle's bytecode (its
#: version must be the runtime's); unset: ``python<version>`` on ``PATH``.
COMPILER_ENV: Final = "KOPS_IAM_BYTECODE_PYTHON"


def canonical(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return name.lower().replace("_", "-").replace(".", "-")


def runtime_dependencies(requirements: Path = REQUIREMENTS) -> list[str]:
    """Requirement strings of ``functions/requirements.txt`` (what the Lambda needs)."""
    lines = (line.partition("#")[0].strip() for line in requirements.read_text().splitlines())
    return [line for line in lines if line]


def python_version(runtime: lambda_.Runtime) -> str:
    """``3.13`` for ``python3.13``."""
    return runtime.name.removeprefix("python")


def tree_size(path: Path) -> int:
    """Bytes of every regular file under ``path``."""
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


def cache_tag(python_version: str) -> str:
    """``cpython-313`` for ``3.13``: the bytecode tag the runtime's interpreter looks for."""
    return "cpython-" + python_version.replace(".", "")


def find_compiler(python_version: str) -> str | None:
    """An interpreter of the runtime's Python version on this machine, or ``None``.

    :data:`COMPILER_ENV` names one explicitly; otherwise ``python<version>`` on ``PATH``,
    or the running interpreter when it is that version. The candidate is asked for its
    bytecode tag, so a stale shim or a wrong version is never used.
    """
    named = os.environ.get(COMPILER_ENV, "").strip()
    if named:
        candidates = [named]
    else:
        candidates = [shutil.which(f"python{python_version}") or "", sys.executable]
    for candidate in filter(None, candidates):
        if ask_interpreter(candidate, "sys.implementation.cache_tag") == cache_tag(python_version):
            return candidate
    return None


def ask_interpreter(interpreter: str, expression: str) -> str:
    """What ``interpreter`` prints for ``expression`` (``sys`` and ``platform`` imported),
    or ``""`` when it does not answer (missing, broken shim, timeout, error)."""
    try:
        done = subprocess.run(  # noqa: S603
            [interpreter, "-c", f"import sys, platform; print({expression})"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


@jsii.implements(ILocalBundling)
class PipLocalBundling:
    """Install the dependencies for the Lambda platform with pip, then copy the package.

    Parameters
    ----------
    runtime, architecture
        The function's; they choose the wheels (``--python-version``, ``--platform``).
    requirements
        Requirement strings; defaults to the function's (``functions/requirements.txt``).
    max_bytes
        Synth fails when the bundle is larger (unzipped).
    compiler
        Interpreter that compiles the bundle's bytecode, of the runtime's version; defaults
        to :func:`find_compiler`'s; ``""`` compiles none.
    """

    def __init__(
        self,
        runtime: lambda_.Runtime,
        architecture: lambda_.Architecture,
        requirements: Sequence[str] | None = None,
        max_bytes: int = MAX_BUNDLE_BYTES,
        compiler: str | None = None,
    ) -> None:
        self.python_version = python_version(runtime)
        self.platform = _ARCH_PLATFORM[architecture.name]
        self.requirements = list(requirements or runtime_dependencies())
        self.max_bytes = max_bytes
        self._compiler = compiler

    def compile_bytecode(self, output: Path) -> bool:
        """Compile every module of ``output`` for the runtime; ``False`` when this machine
        has no interpreter of the runtime's version (the bundle then carries none).

        Hash-based, unchecked bytecode (PEP 552): valid whatever timestamps the zip keeps,
        and the same bytes for the same sources, so the asset hash stays reproducible.
        """
        compiler = find_compiler(self.python_version) if self._compiler is None else self._compiler
        if not compiler:
            print(
                f"kops-iam: no Python {self.python_version} on this machine (set "
                f"{COMPILER_ENV}): the bundle carries no bytecode, so every cold start "
                "compiles it (docs/adr/0118)",
                file=sys.stderr,
            )
            return False
        command = [
            compiler,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(output),
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(
                f"compileall failed ({' '.join(command)}):\n{result.stdout}{result.stderr}".strip()
            )
        return True

    def _pip(self, *args: str) -> None:
        command = [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            "--no-compile",
            "--only-binary=:all:",
            "--implementation=cp",
            f"--platform={self.platform}",
            f"--python-version={self.python_version}",
            *args,
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
        if result.returncode != 0:
            raise RuntimeError(f"pip failed ({' '.join(command)}):\n{result.stderr.strip()}")

    def resolve(self) -> list[str]:
        """Pinned ``name==version`` of the dependency closure, minus :data:`RUNTIME_PROVIDED`."""
        with tempfile.TemporaryDirectory() as scratch:
            report = Path(scratch) / "report.json"
            self._pip("--dry-run", "--ignore-installed", f"--report={report}", *self.requirements)
            installs = json.loads(report.read_text())["install"]
        pins = {
            canonical(item["metadata"]["name"]): item["metadata"]["version"] for item in installs
        }
        return [
            f"{name}=={version}"
            for name, version in sorted(pins.items())
            if name not in RUNTIME_PROVIDED
        ]

    def try_bundle(self, output_dir: str, *, image: DockerImage, **_options: Any) -> bool:
        """CDK's hook: fill ``output_dir`` and report success (never falls back to Docker).

        ``image`` and the other Docker options are CDK's and unused here.
        """
        del image
        output = Path(output_dir)
        self._pip("--no-deps", f"--target={output}", *self.resolve())
        shutil.rmtree(output / "bin", ignore_errors=True)  # console scripts: unused in Lambda
        shutil.copytree(
            FUNCTIONS_DIR / PACKAGE,
            output / PACKAGE,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
            dirs_exist_ok=True,
        )
        compiled = self.compile_bytecode(output)
        size = tree_size(output)
        if size > self.max_bytes:
            raise RuntimeError(
                f"Lambda bundle is {size / 2**20:.1f} MiB unzipped, over the "
                f"{self.max_bytes / 2**20:.0f} MiB budget (docs/adr/0011)"
            )
        bytecode = f"bytecode for {cache_tag(self.python_version)}" if compiled else "no bytecode"
        print(
            f"kops-iam: Lambda bundle {size / 2**20:.1f} MiB unzipped, {bytecode}",
            file=sys.stderr,
        )
        return True


def function_code(runtime: lambda_.Runtime, architecture: lambda_.Architecture) -> lambda_.Code:
    """The function's code asset, bundled locally (skipped when context says so in tests).

    The asset hash is taken from the bundle itself, so a dependency release changes it.
    """
    return lambda_.Code.from_asset(
        str(FUNCTIONS_DIR),
        exclude=list(EXCLUDE),
        asset_hash_type=AssetHashType.OUTPUT,
        bundling=BundlingOptions(
            # Required by CDK, never used: local bundling either succeeds or raises.
            image=runtime.bundling_image,
            command=["sh", "-c", "echo 'kops-iam bundles locally, without Docker' >&2; exit 1"],
            local=PipLocalBundling(runtime, architecture),
        ),
    )
