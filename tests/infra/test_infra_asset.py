"""The Lambda asset as ``cdk synth`` bundles it: the function's package and its runtime
dependencies, none of the tools (docs/adr/0080).

Unlike the other infrastructure tests this one synthesizes with bundling on, as ``make
synth`` does: pip installs the function's dependencies for the Lambda platform from PyPI
(its cache keeps that quick). The asset inspected is the directory the cloud assembly
uploads as the reconciler function's code.
"""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from infra_support import cdk_json_context

from infra.bundling import MAX_BUNDLE_BYTES, tree_size

#: Tool modules and packages (kops_iam_tools and what used to sit in the Lambda package).
TOOL_MODULES = frozenset(
    {"kops_iam_tools", "cli", "commands", "demo", "demo_render", "render", "emulator", "docs"}
)
#: Distributions only the tools need: the terminal output and the embedded AWS.
TOOL_DISTRIBUTIONS = frozenset(
    {"rich", "pygments", "markdown_it", "moto", "flask", "flask_cors", "werkzeug", "responses"}
)


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled directory of the reconciler function's code, from a real synth."""
    from infra.app import build_app
    from infra.stack import STACK_NAME

    outdir = tmp_path_factory.mktemp("bundled")
    build_app(cdk_json_context(), outdir=str(outdir)).synth()
    template = json.loads((outdir / f"{STACK_NAME}.template.json").read_text())
    [code] = [
        resource["Properties"]["Code"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::Lambda::Function"
        and str(resource["Properties"].get("Handler", "")).startswith("kops_iam.")
    ]
    manifest = json.loads((outdir / f"{STACK_NAME}.assets.json").read_text())
    source = manifest["files"][code["S3Key"].removesuffix(".zip")]["source"]
    return outdir / source["path"]


def _top_level(asset: Path) -> set[str]:
    """Import names and distribution names at the asset's top (``x-1.0.dist-info`` -> ``x``)."""
    names = set()
    for item in asset.iterdir():
        name = item.name.split("-")[0] if item.name.endswith(".dist-info") else item.stem
        names.add(name.lower().replace("-", "_"))
    return names


def test_the_asset_is_the_function_package_and_its_runtime_dependencies(asset: Path) -> None:
    top = _top_level(asset)

    assert (asset / "kops_iam" / "application" / "handler.py").is_file()
    assert {"aws_lambda_powertools", "pydantic", "yaml"} <= top
    assert not top & TOOL_DISTRIBUTIONS, (
        f"tool dependencies in the Lambda asset: {top & TOOL_DISTRIBUTIONS}"
    )
    assert not top & TOOL_MODULES
    assert not (asset / "bin").exists()  # no console script, no kops-iam command
    assert tree_size(asset) <= MAX_BUNDLE_BYTES


def test_the_function_package_holds_no_tool_module(asset: Path) -> None:
    package = asset / "kops_iam"
    found = sorted(
        path.relative_to(asset).as_posix()
        for path in package.rglob("*")
        if (path.stem if path.suffix == ".py" else path.name) in TOOL_MODULES
    )

    assert found == []


def test_the_function_package_imports_no_tool_and_no_tool_dependency(asset: Path) -> None:
    # Every import in the shipped code, module level or inside a function
    imported: dict[str, set[str]] = {}
    for path in (asset / "kops_iam").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names = [node.module]
            else:
                continue
            for name in names:
                imported.setdefault(name.split(".")[0], set()).add(path.name)

    assert not set(imported) & (TOOL_MODULES | TOOL_DISTRIBUTIONS), {
        name: imported[name] for name in set(imported) & (TOOL_MODULES | TOOL_DISTRIBUTIONS)
    }
