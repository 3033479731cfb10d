"""Fixtures of the reconciler's integration tests: the in-process world (``support``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.world import World
from support.world import world as make_world


@pytest.fixture
def world() -> Iterator[World]:
    """Given the deployed wiring on moto: bucket, notifications, audit bus, rule, queues."""
    with make_world() as fresh:
        yield fresh
