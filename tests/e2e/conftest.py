"""End-to-end fixtures: one embedded AWS (moto server thread) per test module and process.

Each pytest-xdist worker is its own process with its own server on a free port of
127.0.0.1, so workers never share state. moto keeps its state per process, so a module's
emulator is stopped (and its state discarded) before the next module's starts; tests use
distinct cluster names and read only the audit events of their own cluster.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.served import STATE_STORE, served_world
from support.served import ServedWorld as World


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    """Given the stack's wiring on the embedded AWS: S3 notifications to the runner."""
    yield from served_world()


@pytest.fixture(scope="module")
def eventbridge_world() -> Iterator[World]:
    """Given an existing bucket whose S3 events reach the runner through EventBridge."""
    yield from served_world(delivery="eventbridge", bucket=STATE_STORE)
