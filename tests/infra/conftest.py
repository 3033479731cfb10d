"""Synthesize the stack once per test session per bucket mode (bundling skipped).

Every test using these fixtures also depends on cdk-nag passing (synthesis raises on an
unacknowledged finding).
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from infra_support import EXISTING_CONTEXT, FakePip, Synthesized, load, synthesize

#: The deployments the tests synthesize, by name.
VARIANTS: dict[str, Mapping[str, Any] | None] = {"own": None, "existing": EXISTING_CONTEXT}


@pytest.fixture(scope="session")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Synthesized]:
    """Every variant synthesized once per test session, shared by pytest-xdist workers.

    A synth costs seconds of Node.js CPU, the first in a process the most. The first worker
    to get here synthesizes all variants under a file lock; the others wait and read the
    cloud assemblies (less CPU in total than each worker warming up Node.js for its own).
    """
    base = tmp_path_factory.getbasetemp()
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    with (root / "synth.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        for name, overrides in VARIANTS.items():
            if not (root / f"synth-{name}" / "done").exists():
                synthesize(overrides, root / f"synth-{name}")
                (root / f"synth-{name}" / "done").touch()
    return {name: load(root / f"synth-{name}") for name in VARIANTS}


@pytest.fixture(scope="session")
def own_bucket(assemblies: dict[str, Synthesized]) -> Synthesized:
    """Default settings: the stack creates the specs bucket."""
    return assemblies["own"]


@pytest.fixture(scope="session")
def existing_bucket(assemblies: dict[str, Synthesized]) -> Synthesized:
    """An existing kops state store, with every optional setting."""
    return assemblies["existing"]


@pytest.fixture(params=["own_bucket", "existing_bucket"])
def deployment(request: pytest.FixtureRequest) -> Iterator[Synthesized]:
    """Each bucket mode in turn."""
    yield request.getfixturevalue(request.param)


@pytest.fixture
def statements_of() -> Callable[[Synthesized], dict[str | None, dict[str, Any]]]:
    """The reconciler's own policy statements by Sid."""

    def collect(deployed: Synthesized) -> dict[str | None, dict[str, Any]]:
        policy = next(
            p["Properties"]
            for p in deployed.resources("AWS::IAM::Policy").values()
            if p["Properties"].get("PolicyName") == "kops-iam-reconciler"
        )
        statements = policy["PolicyDocument"]["Statement"]
        by_sid = {s.get("Sid"): s for s in statements}
        assert len(by_sid) == len(statements), "Sids must be unique"
        return by_sid

    return collect


@pytest.fixture
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> FakePip:
    """pip replaced in the stack's bundling (``PipLocalBundling._pip``): no network."""
    from infra.bundling import PipLocalBundling

    fake = FakePip()
    monkeypatch.setattr(PipLocalBundling, "_pip", fake)
    return fake
