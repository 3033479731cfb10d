"""Shared test setup: no test ever reaches AWS or needs real credentials."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.retries.standard import ExponentialBackoff
from hypothesis import settings

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "events" / "specs"
INVALID_SPECS = SPECS / "invalid"

# Dummy credentials and a region for every boto3 client a test makes (moto or none).
for _key, _value in {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_DEV": "false",
    "POWERTOOLS_METRICS_NAMESPACE": "KopsIamTests",
    "POWERTOOLS_TRACE_DISABLED": "true",
}.items():
    os.environ.setdefault(_key, _value)
os.environ.pop("AWS_PROFILE", None)

# `make mutation` (tests/mutation/run.py) sets KOPS_IAM_MUTATION: each mutant's verdict must
# not depend on chance or on the machine's load, so property-based tests draw the same
# examples every time, keep no example database, and have no deadline (unless a test says).
settings.register_profile("mutation", derandomize=True, database=None, deadline=None)
if os.environ.get("KOPS_IAM_MUTATION"):
    settings.load_profile("mutation")


@pytest.fixture
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's retries without their back-off sleeps (seconds under throttling), for a
    test that injects faults (``support.wire``) and asks for it, or a module's
    ``pytestmark = pytest.mark.usefixtures("no_backoff_sleep")``."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)


@pytest.fixture(scope="session")
def specs_dir() -> Path:
    return SPECS


def sample(name: str) -> bytes:
    """Bytes of a sample spec in ``events/specs`` (``invalid/x.yaml`` for invalid ones)."""
    return (SPECS / name).read_bytes()
