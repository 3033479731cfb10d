"""The Docker-free Lambda bundle, with pip replaced by a fake (no network in tests).

``make synth`` runs the real thing (pip against PyPI for manylinux aarch64 wheels).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import re
import sys
from pathlib import Path

import pytest
from aws_cdk import aws_lambda as lambda_
from infra_support import ROOT, FakePip

from infra import bundling
from infra.bundling import RUNTIME_PROVIDED, PipLocalBundling, canonical, runtime_dependencies

IMAGE = lambda_.Runtime.PYTHON_3_13.bundling_image


def bundler(max_bytes: int = bundling.MAX_BUNDLE_BYTES, compiler: str = "") -> PipLocalBundling:
    # No bytecode unless a test asks for it (the fake pip's payload is not Python).
    return PipLocalBundling(
        lambda_.Runtime.PYTHON_3_13,
        lambda_.Architecture.ARM_64,
        max_bytes=max_bytes,
        compiler=compiler,
    )


def _names(requirements: list[str]) -> set[str]:
    return {canonical(re.split(r"[\s\[<>=!~;]", item, maxsplit=1)[0]) for item in requirements}


def test_the_bundle_takes_the_functions_requirements_and_not_the_tools() -> None:
    # Given the function's and the tools' requirement files (docs/adr/0080)
    function = runtime_dependencies()
    tools = runtime_dependencies(ROOT / "tools" / "requirements.txt")

    # Then the bundler installs the function's list, which holds none of the tools'
    assert function == [
        line
        for line in (ROOT / "functions" / "requirements.txt").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert bundler().requirements == function
    assert "rich" in _names(tools)
    assert not _names(tools) & _names(function)
    # And the installed distribution requires both lists, each read from its file
    declared = [r for r in importlib.metadata.requires("kops-iam") or [] if "extra ==" not in r]
    assert _names(declared) == _names(function) | _names(tools)


def test_wheels_are_chosen_for_the_lambda_platform() -> None:
    assert bundler().python_version == "3.13"
    assert bundler().platform == "manylinux2014_aarch64"
    x86 = PipLocalBundling(lambda_.Runtime.PYTHON_3_12, lambda_.Architecture.X86_64)
    assert (x86.python_version, x86.platform) == ("3.12", "manylinux2014_x86_64")


def test_resolution_pins_everything_but_the_runtimes_own_sdk(fake_pip: FakePip) -> None:
    pins = bundler().resolve()

    assert pins == [
        "aws-lambda-powertools==3.1.0",
        "aws-xray-sdk==2.14.0",
        "pydantic==2.9.0",
        "pyyaml==6.0.2",
    ]
    [call] = fake_pip.calls
    assert "--dry-run" in call
    assert not {pin.split("==")[0] for pin in pins} & RUNTIME_PROVIDED


def test_bundle_holds_the_dependencies_and_the_package_without_caches(
    fake_pip: FakePip, tmp_path: Path
) -> None:
    # When CDK asks for a local bundle
    assert bundler().try_bundle(str(tmp_path), image=IMAGE) is True

    # Then pip installed the pins without resolving again, into the output directory
    install = fake_pip.calls[-1]
    assert "--no-deps" in install and f"--target={tmp_path}" in install
    # And the package is there, minus caches; console scripts are dropped
    assert (tmp_path / "kops_iam" / "application" / "handler.py").is_file()
    assert (tmp_path / "kops_iam" / "domain" / "data").is_dir()
    assert not list(tmp_path.rglob("__pycache__"))
    assert not (tmp_path / "bin").exists()


def test_an_oversized_bundle_fails_synth(fake_pip: FakePip, tmp_path: Path) -> None:
    fake_pip.payload_bytes = 2048
    with pytest.raises(RuntimeError, match="over the"):
        bundler(max_bytes=1024).try_bundle(str(tmp_path), image=IMAGE)


def test_pip_failure_is_reported_with_its_output(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    class Failed:
        returncode = 1
        stderr = "ERROR: No matching distribution found for nothing-here"

    monkeypatch.setattr(bundling.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(RuntimeError, match="No matching distribution"):
        bundler().try_bundle(str(tmp_path), image=IMAGE)


#: The runtime of this interpreter's version, so that this interpreter compiles its bytecode.
THIS_RUNTIME = lambda_.Runtime(f"python{sys.version_info[0]}.{sys.version_info[1]}")


def test_the_bundle_carries_bytecode_for_the_runtimes_python(
    fake_pip: FakePip, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an interpreter of the runtime's version on this machine (docs/adr/0118)
    fake_pip.payload_bytes = 0  # an empty yaml/__init__.py: valid Python
    tag = sys.implementation.cache_tag
    assert bundling.find_compiler(bundling.python_version(THIS_RUNTIME)) is not None
    bundle = PipLocalBundling(THIS_RUNTIME, lambda_.Architecture.ARM_64, compiler=sys.executable)

    # When CDK asks for a local bundle
    assert bundle.try_bundle(str(tmp_path), image=IMAGE) is True

    # Then every module, the dependencies' and kops_iam's, has its bytecode for that version
    sources = list(tmp_path.rglob("*.py"))
    assert len(sources) > 40
    for source in sources:
        assert Path(importlib.util.cache_from_source(str(source))).is_file(), source
    handler = tmp_path / "kops_iam" / "application" / "__pycache__" / f"handler.{tag}.pyc"
    # And it is hash-based and unchecked (PEP 552 flags 0b01): the zip's timestamps do not
    # matter and the same sources give the same bytes
    assert int.from_bytes(handler.read_bytes()[4:8], "little") == 0b01
    assert f"bytecode for {tag}" in capsys.readouterr().err


def test_without_the_runtimes_python_the_bundle_says_it_has_no_bytecode(
    fake_pip: FakePip, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bundler().try_bundle(str(tmp_path), image=IMAGE) is True

    assert not list(tmp_path.rglob("*.pyc"))
    err = capsys.readouterr().err
    assert "carries no bytecode" in err and bundling.COMPILER_ENV in err


def test_a_compiler_of_another_version_is_never_used(monkeypatch: pytest.MonkeyPatch) -> None:
    # This interpreter is not Python 2.7: named explicitly, it is still refused
    monkeypatch.setenv(bundling.COMPILER_ENV, sys.executable)
    assert bundling.find_compiler("2.7") is None
    assert bundling.find_compiler(bundling.python_version(THIS_RUNTIME)) == sys.executable
