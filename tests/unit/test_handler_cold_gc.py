"""The handler's cold path runs without the cyclic garbage collector in Lambda, and the
first invocation's end freezes what it made and turns the collector back on, whether that
invocation succeeded or failed; outside Lambda, Python's default stands (docs/adr/0122).

Each case runs in a fresh interpreter: the pause happens when the module is imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

_SCRIPT = """
import gc, json, sys
states = {"at start": gc.isenabled()}
from kops_iam.application import handler
states["after import"] = gc.isenabled()
states["frozen after import"] = gc.get_freeze_count()
from kops_iam_tools.world.function import LambdaContext
event = {"version": "0", "id": "1", "detail-type": "Something Else", "source": "aws.ec2",
         "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
         "resources": [], "detail": {}}
try:
    handler.lambda_handler(event, LambdaContext())
    states["first invocation"] = "returned"
except Exception as exc:
    states["first invocation"] = type(exc).__name__
states["after first invocation"] = gc.isenabled()
frozen = gc.get_freeze_count()
states["frozen after first invocation"] = frozen
gc.disable()  # a later pause by someone else is not undone by the next invocation
try:
    handler.lambda_handler(event, LambdaContext())
except Exception:
    pass
states["after second invocation"] = gc.isenabled()
# Frozen objects that die leave the permanent generation; a second freeze would add the
# second invocation's objects to it.
states["frozen after second invocation"] = gc.get_freeze_count()
print(json.dumps(states))
"""


def _run(**env: str) -> dict[str, object]:
    environ = {k: v for k, v in os.environ.items() if k not in ("AWS_EXECUTION_ENV", "AWS_PROFILE")}
    environ.update(
        {
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_EC2_METADATA_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "CRITICAL",
            "POWERTOOLS_METRICS_NAMESPACE": "KopsIamTest",
            "KOPS_IAM_SPECS_BUCKET": "specs",
            "KOPS_IAM_AUDIT_BUS_NAME": "audit",
        }
    )
    environ.update(env)
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        capture_output=True,
        text=True,
        env=environ,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def test_in_lambda_the_collector_waits_for_the_first_invocation_to_end() -> None:
    # Given Lambda's environment (its managed runtime names itself)
    # When the handler is imported and invoked twice with an event it ignores
    states = _run(AWS_EXECUTION_ENV="AWS_Lambda_python3.13")

    # Then the collector was on before the import and paused by it
    assert states["at start"] is True
    assert states["after import"] is False
    assert states["frozen after import"] == 0
    # And the first invocation's end froze what the cold path made and resumed it
    assert states["first invocation"] == "returned"
    assert states["after first invocation"] is True
    assert isinstance(states["frozen after first invocation"], int)
    assert states["frozen after first invocation"] > 10_000
    # And only the first: a later invocation neither freezes nor resumes again
    assert states["after second invocation"] is False
    assert isinstance(states["frozen after second invocation"], int)
    assert states["frozen after second invocation"] <= states["frozen after first invocation"]


def test_a_first_invocation_that_fails_still_resumes_the_collector() -> None:
    # Given Lambda's environment with a setting the function refuses: building the runtime
    # fails
    states = _run(AWS_EXECUTION_ENV="AWS_Lambda_python3.13", KOPS_IAM_MODE="bogus")

    # Then the first invocation raised, and the collector is on again all the same
    assert states["after import"] is False
    assert states["first invocation"] == "SettingsError"
    assert states["after first invocation"] is True
    assert isinstance(states["frozen after first invocation"], int)
    assert states["frozen after first invocation"] > 0


@pytest.mark.parametrize("execution_env", [None, "", "AWS_ECS_FARGATE", "aws_lambda_python3.13"])
def test_outside_lambda_python_s_default_stands(execution_env: str | None) -> None:
    # Given no Lambda runtime (the tools, the tests), an empty one, another service's, or a
    # look-alike in the wrong case
    env = {} if execution_env is None else {"AWS_EXECUTION_ENV": execution_env}

    # When the handler is imported and invoked
    states = _run(**env)

    # Then the collector was never paused, and nothing was frozen
    assert states["after import"] is True
    assert states["first invocation"] == "returned"
    assert states["after first invocation"] is True
    assert states["frozen after first invocation"] == 0
