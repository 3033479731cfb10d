"""Reliability suite setup: mode banner and the figures summary (see ``rel_support``)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from typing import Any

import pytest
import rel_support
from hypothesis import HealthCheck, settings

_START = time.monotonic()

# Fast mode: fixed seeds (reproducible CI); long mode: fresh seeds every run.
settings.register_profile(
    "reliability-fast",
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
settings.register_profile(
    "reliability-long",
    derandomize=False,
    deadline=None,
    print_blob=True,
    suppress_health_check=list(HealthCheck),
)
PROFILE = "reliability-long" if rel_support.LONG else "reliability-fast"


def pytest_report_header(config: pytest.Config) -> str:
    return f"kops-iam reliability mode: {rel_support.MODE} ({rel_support.MODE_ENV}=long for long)"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    path = rel_support.summary_path()
    if worker and path is not None:
        rel_support.write_fragment(path, worker)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    if os.environ.get("PYTEST_XDIST_WORKER"):
        return
    path = rel_support.summary_path()
    if path is None:
        return
    outcome = {
        key: len(terminalreporter.stats.get(key, []))
        for key in ("passed", "failed", "error", "skipped", "xfailed")
    }
    summary = rel_support.write_summary(path, outcome, time.monotonic() - _START)
    terminalreporter.write_sep("=", f"reliability figures ({summary['mode']} mode) -> {path}")
    for part, figures in summary["figures"].items():
        terminalreporter.write_line(f"{part}: {figures}")


# ``no_backoff_sleep`` (botocore's retries without their sleeps) is tests/conftest.py's.


@pytest.fixture
def quiet_logs(caplog: pytest.LogCaptureFixture) -> None:
    """Every logger captured at CRITICAL only, for one test (restored after it)."""
    caplog.set_level(logging.CRITICAL)


@pytest.fixture(scope="module")
def quiet_kops_iam_logs() -> Iterator[None]:
    """The function's own log lines silenced for a module of many stories."""
    logger = logging.getLogger("kops-iam")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    yield
    logger.setLevel(level)
