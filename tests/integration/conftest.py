"""Fixtures of the reconciler's integration tests (helpers in ``reconciler_world.py``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from reconciler_world import World, make_world


@pytest.fixture
def world() -> Iterator[World]:
    """Given the deployed wiring on moto: bucket, notifications, audit bus, rule, queues."""
    yield from make_world()
