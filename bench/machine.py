"""The machine and software a run measured: recorded with every result."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Final

ROOT = Path(__file__).resolve().parents[1]
SPECS_DIR = ROOT / "events" / "specs"
FUNCTIONS_DIR = ROOT / "functions"

PACKAGES = (
    "boto3",
    "botocore",
    "aws-lambda-powertools",
    "pydantic",
    "pydantic-core",
    "PyYAML",
    "moto",
)


def cpu_model() -> str:
    """CPU model name from ``/proc/cpuinfo`` (or :func:`platform.processor`)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def describe() -> dict[str, str]:
    """nproc, CPU, OS, Python and the versions of the packages that matter."""
    info = {
        "nproc": str(
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        ),
        "cpu": cpu_model(),
        "os": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": sys.version.split()[0],
        "load average": "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg()),
    }
    for name in PACKAGES:
        try:
            info[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            info[name] = "not installed"
    return info


#: Escalations the sample specs' operators approve: bastion-all-roles.yaml's bastion asks for
#: ssm:StartSession (issue 10). The benches that decide or apply the samples approve them.
APPROVED_ACTIONS: Final[tuple[str, ...]] = ("ssm:StartSession",)

#: What Lambda's managed runtime says of itself, and where the handler pauses the garbage
#: collector on the cold path (docs/adr/0122); the benches that run a fresh process as a
#: Lambda container does (cold start, memory) set it, the in-process ones do not.
LAMBDA_RUNTIME_ENV: Final[dict[str, str]] = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}


def lambda_like_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of a deployed function: region, dummy credentials, the stack's settings.

    Dummy credentials only: nothing here ever reaches AWS.
    """
    env = dict(os.environ)
    env.pop("AWS_PROFILE", None)
    env.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_LAMBDA_FUNCTION_NAME": "kops-iam-reconciler",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "POWERTOOLS_SERVICE_NAME": "kops-iam",
            "POWERTOOLS_METRICS_NAMESPACE": "KopsIam",
            "KOPS_IAM_SPECS_BUCKET": "kops-iam-specs",
            "KOPS_IAM_AUDIT_BUS_NAME": "kops-iam-audit",
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
            "PYTHONPATH": str(FUNCTIONS_DIR),
            **LAMBDA_RUNTIME_ENV,
        }
    )
    env.update(extra or {})
    return env
