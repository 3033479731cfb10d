"""Package size: the Lambda asset, unzipped and zipped.

Two builds from the same runtime dependencies (``functions/requirements.txt``), each
``pip install --platform manylinux2014_aarch64 --only-binary=:all: --python-version X
--target DIR`` plus ``functions/kops_iam`` copied in (the asset root is ``functions/``):

* **as deployed**: the stack's recipe (``infra/bundling.py``): the function's runtime
  version (read from ``infra/reconciler.py``), ``--no-compile``, and without the AWS SDK
  closure the Lambda Python runtime already provides (boto3, botocore, ...) or ``bin/``.
  The target applies to this one.
* **everything bundled**: the plain command with every dependency, boto3 included, and the
  bytecode pip compiles with this machine's interpreter, to show what the exclusions save.

Each build runs once per run in a temporary directory; pip's own cache keeps the wheels
between runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from bench.machine import FUNCTIONS_DIR, ROOT
from bench.report import Row, fmt_number, not_measured, verdict

SECTION = "package"
TARGET_MB = 20.0
PLATFORM = "manylinux2014_aarch64"
DEFAULT_PYTHON = "3.12"
MB = 1024 * 1024
#: Top-level names in the asset that belong to the runtime-provided AWS SDK closure.
RUNTIME_PROVIDED_DIRS = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3"}
)
RUNTIME_PROVIDED_DISTS = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python_dateutil", "six", "urllib3"}
)


def runtime_dependencies() -> list[str]:
    """The function's runtime dependencies: ``functions/requirements.txt``, as the stack's."""
    text = (FUNCTIONS_DIR / "requirements.txt").read_text()
    lines = (line.partition("#")[0].strip() for line in text.splitlines())
    return [line for line in lines if line]


def function_python_version() -> str:
    """The function's Python version as the stack declares it (``PYTHON_3_13`` -> ``3.13``)."""
    try:
        text = (ROOT / "infra" / "reconciler.py").read_text()
    except OSError:
        return DEFAULT_PYTHON
    found = re.search(r"Runtime\.PYTHON_(\d+)_(\d+)", text)
    return f"{found.group(1)}.{found.group(2)}" if found else DEFAULT_PYTHON


def build(target: Path, python_version: str, *, compile_bytecode: bool) -> str | None:
    """pip-install the runtime dependencies for the Lambda platform into ``target``.

    Returns ``None`` on success, else pip's last error line.
    """
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--timeout=30",
        "--retries=2",
        "--platform",
        PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        python_version,
        "--implementation",
        "cp",
        "--target",
        str(target),
        *([] if compile_bytecode else ["--no-compile"]),
        *runtime_dependencies(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or ["pip failed"])[-1]
    shutil.copytree(
        FUNCTIONS_DIR / "kops_iam",
        target / "kops_iam",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    return None


def is_runtime_provided(root: Path) -> Callable[[Path], bool]:
    """Predicate: does a file of the asset belong to the runtime-provided SDK (or ``bin/``)?"""

    def provided(path: Path) -> bool:
        top = path.relative_to(root).parts[0]
        if top in RUNTIME_PROVIDED_DIRS or top == "bin":
            return True
        return top.endswith(".dist-info") and top.split("-")[0].lower() in RUNTIME_PROVIDED_DISTS

    return provided


def files_of(root: Path, keep: Callable[[Path], bool] = lambda _p: True) -> list[Path]:
    """Regular files under ``root`` that ``keep`` accepts."""
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and keep(p)]


def zipped_bytes(root: Path, files: list[Path], out: Path) -> int:
    """Zip ``files`` (paths relative to ``root``, deflate) into ``out``; return its size."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files):
            archive.write(path, path.relative_to(root))
    return out.stat().st_size


def breakdown(root: Path, files: list[Path]) -> list[tuple[str, int]]:
    """Size per top-level entry of the asset, largest first (``*.dist-info`` grouped)."""
    sizes: dict[str, int] = {}
    for path in files:
        top = path.relative_to(root).parts[0]
        name = "*.dist-info" if top.endswith(".dist-info") else top
        sizes[name] = sizes.get(name, 0) + path.stat().st_size
    return sorted(sizes.items(), key=lambda kv: -kv[1])


def _top(parts: list[tuple[str, int]], count: int = 7) -> str:
    return ", ".join(f"{name} {size / MB:.1f}" for name, size in parts[:count])


def run(quick: bool = False) -> tuple[list[Row], dict[str, object]]:
    """Build the asset(s) once and measure them."""
    version = function_python_version()
    rows: list[Row] = []
    raw: dict[str, object] = {"python_version": version, "platform": PLATFORM}
    with tempfile.TemporaryDirectory(prefix="kops-iam-asset-") as tmp:
        deployed = Path(tmp) / "deployed"
        error = build(deployed, version, compile_bytecode=False)
        if error:
            return [
                not_measured(SECTION, "asset as deployed, unzipped", f"pip: {error}", "<= 20 MB")
            ], {"error": error}
        files = files_of(deployed, lambda p: not is_runtime_provided(deployed)(p))
        size = sum(p.stat().st_size for p in files)
        zipped = zipped_bytes(deployed, files, Path(tmp) / "deployed.zip")
        parts = breakdown(deployed, files)
        raw.update(deployed=size, deployed_zipped=zipped, deployed_breakdown=parts)
        rows.append(
            Row(
                SECTION,
                "asset as deployed, unzipped",
                f"{fmt_number(size / MB)} MB",
                target=f"<= {TARGET_MB:.0f} MB",
                status=verdict(size / MB <= TARGET_MB),
                note=f"{PLATFORM}, cp{version.replace('.', '')}, --no-compile, without the "
                f"runtime's boto3/botocore closure. Largest (MB): {_top(parts)}",
            )
        )
        rows.append(Row(SECTION, "asset as deployed, zipped", f"{fmt_number(zipped / MB)} MB"))
        if quick:
            return rows, raw
        everything = Path(tmp) / "everything"
        error = build(everything, DEFAULT_PYTHON, compile_bytecode=True)
        if error:
            rows.append(not_measured(SECTION, "everything bundled", f"pip: {error}"))
            return rows, raw
        all_files = files_of(everything)
        total = sum(p.stat().st_size for p in all_files)
        pyc = sum(p.stat().st_size for p in all_files if p.suffix == ".pyc")
        sdk = sum(p.stat().st_size for p in all_files if is_runtime_provided(everything)(p))
        total_zip = zipped_bytes(everything, all_files, Path(tmp) / "everything.zip")
        raw.update(
            everything=total,
            everything_zipped=total_zip,
            everything_pyc=pyc,
            everything_sdk=sdk,
            everything_breakdown=breakdown(everything, all_files),
        )
    rows.append(
        Row(
            SECTION,
            "everything bundled, unzipped",
            f"{fmt_number(total / MB)} MB",
            f"{total / size:.1f}x deployed",
            note=f"plain `pip install --target` (cp{DEFAULT_PYTHON.replace('.', '')}, boto3 "
            f"included, bytecode compiled); zipped {total_zip / MB:.1f} MB. Of it: "
            f"boto3/botocore closure {sdk / MB:.1f} MB ({sdk / total:.0%}); .pyc compiled by "
            f"this machine's Python {sys.version_info.major}.{sys.version_info.minor}, which "
            f"the runtime ignores, {pyc / MB:.1f} MB ({pyc / total:.0%})",
        )
    )
    return rows, raw
