"""The package bench measures the asset as synth builds it (``infra/bundling.py``), bytecode
included when this machine has the runtime's Python, and says which (docs/adr/0118).

pip is faked (no wheels are downloaded: ``infra_support.FakePip``); the bundling itself, its
resolution, package copy and compileall, is infra's, run for real.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_
from infra_support import FakePip

from bench import package
from infra import bundling

#: The runtime of this interpreter's version, so that this interpreter compiles its bytecode.
THIS_RUNTIME = lambda_.Runtime(f"python{sys.version_info[0]}.{sys.version_info[1]}")
TAG = sys.implementation.cache_tag


@pytest.fixture
def bench_build(fake_pip: FakePip, monkeypatch: pytest.MonkeyPatch) -> FakePip:
    """The package bench on the fake pip, for this interpreter's runtime."""
    fake_pip.payload_bytes = 0  # an empty yaml/__init__.py: valid Python
    monkeypatch.setattr(package, "RUNTIME", THIS_RUNTIME)
    monkeypatch.delenv(bundling.COMPILER_ENV, raising=False)
    return fake_pip


def _rows(rows: list[package.Row]) -> dict[str, package.Row]:
    return {row.figure: row for row in rows}


def test_the_deployed_asset_is_synths_with_the_runtimes_bytecode_and_says_so(
    bench_build: FakePip,
) -> None:
    # Given an interpreter of the runtime's version on this machine (this one)
    assert bundling.find_compiler(bundling.python_version(THIS_RUNTIME)) is not None

    # When the package bench runs (quick: the deployed asset only)
    rows, raw = package.run(quick=True)

    # Then the asset was built by the stack's bundling, for the stack's platform
    [target] = [a for call in bench_build.calls for a in call if a.startswith("--target=")]
    assert target.endswith("/deployed")
    by_figure = _rows(rows)
    size = by_figure["asset as deployed, unzipped"]
    assert (size.target, size.status) == ("<= 20 MB", "met")
    assert "infra/bundling.py" in size.note and "manylinux2014_aarch64" in size.note
    assert f"bytecode for {TAG}" in size.note
    # And it carries bytecode for every module, counted in its size, and says which Python
    assert raw["bytecode_included"] is True and raw["bytecode_tag"] == TAG
    pyc = raw["bytecode_files"]
    assert isinstance(pyc, int) and pyc > 40  # kops_iam's modules and yaml's
    assert isinstance(raw["deployed"], int) and isinstance(raw["bytecode_bytes"], int)
    assert raw["deployed"] > raw["bytecode_bytes"] > 0
    bytecode = by_figure["asset as deployed, bytecode"]
    assert bytecode.value == f"Python {platform.python_version()}"
    assert f"{pyc:,} .pyc" in bytecode.note
    assert raw["bytecode_compiler_version"] == platform.python_version()


def test_without_the_runtimes_python_the_bench_says_the_asset_has_no_bytecode(
    bench_build: FakePip, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Given no interpreter of the runtime's version (the one named is not one)
    monkeypatch.setenv(bundling.COMPILER_ENV, str(tmp_path / "no-python"))

    # When the package bench runs
    rows, raw = package.run(quick=True)

    # Then the asset is measured as synth would ship it, without bytecode, and says why
    by_figure = _rows(rows)
    size = by_figure["asset as deployed, unzipped"]
    assert (size.target, size.status) == ("<= 20 MB", "met")
    assert "NO bytecode" in size.note
    bytecode = by_figure["asset as deployed, bytecode"]
    assert bytecode.value == "none"
    assert bundling.COMPILER_ENV in bytecode.note
    assert (raw["bytecode_included"], raw["bytecode_files"]) == (False, 0)
    # And it holds the package and the dependencies, without the console scripts
    parts = raw["deployed_breakdown"]
    assert isinstance(parts, list)
    assert {name for name, _ in parts} == {"kops_iam", "yaml"}
