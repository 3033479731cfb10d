"""Package size: the Lambda asset, unzipped and zipped.

Two builds from the same runtime dependencies (``functions/requirements.txt``):

* **as deployed**: built by the stack's own bundling (``infra.bundling.PipLocalBundling``,
  for the function's runtime and architecture from ``infra.reconciler``), exactly as synth
  builds it: the wheels for the runtime's Python and platform, without the AWS SDK closure
  the Lambda Python runtime already provides (boto3, botocore, ...) or ``bin/``, with
  ``functions/kops_iam`` copied in, and with bytecode for the runtime's Python when this
  machine has that interpreter (``KOPS_IAM_BYTECODE_PYTHON``, else ``python3.13`` on
  ``PATH``; docs/adr/0118). The bench says whether bytecode went in and which Python
  compiled it. The target applies to this one.
* **everything bundled**: the plain ``pip install --platform ... --target DIR`` with every
  dependency, boto3 included, and the bytecode pip compiles with this machine's interpreter,
  to show what the exclusions save.

Each build runs once per run in a temporary directory; pip's own cache keeps the wheels
between runs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.machine import FUNCTIONS_DIR
from bench.report import Row, fmt_number, not_measured, verdict
from infra.bundling import (
    COMPILER_ENV,
    RUNTIME_PROVIDED,
    PipLocalBundling,
    ask_interpreter,
    cache_tag,
    canonical,
    find_compiler,
    python_version,
    runtime_dependencies,
)
from infra.reconciler import ARCHITECTURE, RUNTIME

SECTION = "package"
TARGET_MB = 20.0
#: The plain build's platform and Python (the comparison only; the deployed build is infra's).
PLATFORM = "manylinux2014_aarch64"
DEFAULT_PYTHON = "3.12"
MB = 1024 * 1024
#: Top-level names in a plain build that belong to the runtime-provided AWS SDK closure.
RUNTIME_PROVIDED_DIRS = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "six.py", "urllib3"}
)


@dataclass(frozen=True)
class Deployed:
    """The deployed build: its platform, and the bytecode it carries for the runtime."""

    #: ``manylinux2014_aarch64``: the wheels' platform, the stack's architecture's
    platform: str
    #: the runtime's Python (``3.13``)
    python_version: str
    #: the runtime's bytecode tag (``cpython-313``)
    tag: str
    #: the interpreter that compiled it, ``None`` when this machine has none of that version
    compiler: str | None
    #: its full version (``3.13.0``), ``""`` without one
    compiler_version: str
    #: ``.pyc`` files of that tag in the asset, and their bytes
    pyc_files: int
    pyc_bytes: int

    @property
    def included(self) -> bool:
        return self.pyc_files > 0

    def describe(self) -> str:
        if self.included:
            return (
                f"bytecode for {self.tag}: {self.pyc_files:,} .pyc, {self.pyc_bytes / MB:.1f} MB, "
                f"compiled by Python {self.compiler_version} ({self.compiler})"
            )
        if self.compiler is None:
            return (
                f"NO bytecode: no Python {self.python_version} on this machine (set "
                f"{COMPILER_ENV}); synth here would ship the same asset, every cold start "
                "compiling it"
            )
        return f"NO bytecode for {self.tag}, although {self.compiler} was found"


def interpreter_version(interpreter: str) -> str:
    """``3.13.0`` for an interpreter of that version (``""`` when it does not answer)."""
    return ask_interpreter(interpreter, "platform.python_version()")


def build_deployed(target: Path) -> Deployed:
    """Fill ``target`` with the asset as synth builds it (``PipLocalBundling.try_bundle``).

    The compiler is looked up as synth looks it up (:func:`infra.bundling.find_compiler`)
    and handed over, so the bench knows which one it was. The size budget is left to the
    bench's target (synth would refuse an oversized bundle; the bench reports it NOT MET).
    Raises ``RuntimeError`` as synth does when pip or compileall fails.
    """
    version = python_version(RUNTIME)
    compiler = find_compiler(version)
    # compiler "": none found, the bundle carries no bytecode (and says so, as in synth)
    bundling = PipLocalBundling(
        RUNTIME, ARCHITECTURE, max_bytes=sys.maxsize, compiler=compiler or ""
    )
    bundling.try_bundle(str(target), image=RUNTIME.bundling_image)
    tag = cache_tag(version)
    pyc = [p for p in target.rglob(f"*.{tag}.pyc") if p.is_file()]
    return Deployed(
        platform=bundling.platform,
        python_version=version,
        tag=tag,
        compiler=compiler,
        compiler_version=interpreter_version(compiler) if compiler else "",
        pyc_files=len(pyc),
        pyc_bytes=sum(p.stat().st_size for p in pyc),
    )


def build_everything(target: Path) -> str | None:
    """The plain build: every runtime dependency (boto3 included) for the Lambda platform,
    with the bytecode pip compiles, plus ``functions/kops_iam``.

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
        DEFAULT_PYTHON,
        "--implementation",
        "cp",
        "--target",
        str(target),
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
    """Predicate: does a file of a plain build belong to the runtime-provided SDK (or
    ``bin/``)?"""

    def provided(path: Path) -> bool:
        top = path.relative_to(root).parts[0]
        if top in RUNTIME_PROVIDED_DIRS or top == "bin":
            return True
        return top.endswith(".dist-info") and canonical(top.split("-")[0]) in RUNTIME_PROVIDED

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
    rows: list[Row] = []
    raw: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="kops-iam-asset-") as tmp:
        deployed = Path(tmp) / "deployed"
        try:
            built = build_deployed(deployed)
        except RuntimeError as exc:
            failed = (str(exc).strip().splitlines() or ["bundling failed"])[-1]
            return [
                not_measured(
                    SECTION, "asset as deployed, unzipped", f"bundling: {failed}", "<= 20 MB"
                )
            ], {"error": failed}
        files = files_of(deployed)
        size = sum(p.stat().st_size for p in files)
        zipped = zipped_bytes(deployed, files, Path(tmp) / "deployed.zip")
        parts = breakdown(deployed, files)
        raw.update(
            python_version=built.python_version,
            platform=built.platform,
            deployed=size,
            deployed_zipped=zipped,
            deployed_breakdown=parts,
            bytecode_included=built.included,
            bytecode_tag=built.tag,
            bytecode_compiler=built.compiler,
            bytecode_compiler_version=built.compiler_version,
            bytecode_files=built.pyc_files,
            bytecode_bytes=built.pyc_bytes,
        )
        with_bytecode = f"bytecode for {built.tag}" if built.included else "NO bytecode"
        rows.append(
            Row(
                SECTION,
                "asset as deployed, unzipped",
                f"{fmt_number(size / MB)} MB",
                target=f"<= {TARGET_MB:.0f} MB",
                status=verdict(size / MB <= TARGET_MB),
                note=f"as synth builds it (infra/bundling.py): {built.platform}, "
                f"cp{built.python_version.replace('.', '')}, {with_bytecode}, without the "
                f"runtime's boto3/botocore closure. Largest (MB): {_top(parts)}",
            )
        )
        rows.append(Row(SECTION, "asset as deployed, zipped", f"{fmt_number(zipped / MB)} MB"))
        rows.append(
            Row(
                SECTION,
                "asset as deployed, bytecode",
                f"Python {built.compiler_version}" if built.included else "none",
                note=built.describe(),
            )
        )
        if quick:
            return rows, raw
        everything = Path(tmp) / "everything"
        error = build_everything(everything)
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
            note=f"plain `pip install --target` ({PLATFORM}, cp{DEFAULT_PYTHON.replace('.', '')}, "
            f"boto3 included, bytecode compiled); zipped {total_zip / MB:.1f} MB. Of it: "
            f"boto3/botocore closure {sdk / MB:.1f} MB ({sdk / total:.0%}); .pyc compiled by "
            f"this machine's Python {sys.version_info.major}.{sys.version_info.minor}, which "
            f"the runtime ignores, {pyc / MB:.1f} MB ({pyc / total:.0%})",
        )
    )
    return rows, raw
