"""AWS stand-in for the benchmarks: moto in-process, the real handler runtime, call counting.

One :class:`World` is one moto account with the specs bucket (versioned, as the stack makes
it) and the audit bus, plus the handler's :class:`~kops_iam.handler.Runtime` built by the
handler's own ``build_runtime`` on one boto3 session. Every AWS call the function makes is
counted per service and operation by a botocore ``before-call`` hook on that session (one
count per API call, retries not counted; each page of a paginator is a call). Set-up calls
made by the bench itself run with counting paused.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

ACCOUNT = "123456789012"
REGION = "us-east-1"
BUCKET = "kops-iam-specs"
BUS = "kops-iam-audit"
FUNCTION = "kops-iam-reconciler"

ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_SERVICE_NAME": "kops-iam",
    "POWERTOOLS_METRICS_NAMESPACE": "KopsIamBench",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_LOG_LEVEL": "ERROR",  # the table, not the function's logs, goes to stdout
    "KOPS_IAM_SPECS_BUCKET": BUCKET,
    "KOPS_IAM_AUDIT_BUS_NAME": BUS,
}
READ_PREFIXES = ("Get", "List", "Head", "Describe")


def reconciler_available() -> bool:
    """Whether the reconciler (``kops_iam.handler`` and ``kops_iam.service``) is there."""
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("kops_iam.application.handler", "kops_iam.application.reconciler")
        )
    except ImportError:
        return False


def apply_env() -> None:
    """Dummy credentials and the function's settings, before anything imports the handler."""
    os.environ.update(ENV)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        os.environ.pop(name, None)


def is_read(operation: str) -> bool:
    """Whether an API operation only reads (``Get*``, ``List*``, ``Head*``, ``Describe*``)."""
    return operation.startswith(READ_PREFIXES)


@dataclass(frozen=True)
class Calls:
    """API calls made, per ``(service, operation)``."""

    counts: Mapping[tuple[str, str], int] = field(default_factory=dict)

    def where(self, service: str, read: bool | None = None) -> int:
        return sum(
            n
            for (svc, op), n in self.counts.items()
            if svc == service and (read is None or is_read(op) == read)
        )

    @property
    def iam_reads(self) -> int:
        return self.where("iam", read=True)

    @property
    def iam_writes(self) -> int:
        return self.where("iam", read=False)

    @property
    def s3(self) -> int:
        return self.where("s3")

    @property
    def events(self) -> int:
        return self.where("events")

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def describe(self, service: str | None = None) -> str:
        """``Operation n, ...`` sorted by operation."""
        return ", ".join(
            f"{op} {n}"
            for (svc, op), n in sorted(self.counts.items())
            if service is None or svc == service
        )


class CallCounter:
    """botocore ``before-call`` hook counting API calls (thread-safe, can be paused)."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._paused = False

    def __call__(self, model: Any, **_kwargs: Any) -> None:
        if self._paused:
            return
        with self._lock:
            self._counts[(model.service_model.service_name, model.name)] += 1

    def take(self) -> Calls:
        """Return the calls counted since the last ``take`` and start again."""
        with self._lock:
            calls = Calls(dict(self._counts))
            self._counts.clear()
        return calls

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        self._paused = True
        try:
            yield
        finally:
            self._paused = False


@dataclass
class FakeContext:
    """The parts of a Lambda context the handler and Powertools read."""

    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = FUNCTION
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{FUNCTION}"
    log_group_name: str = f"/aws/lambda/{FUNCTION}"
    log_stream_name: str = "bench"
    remaining_ms: int = 15 * 60 * 1000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def object_event(
    key: str, *, deleted: bool = False, version_id: str | None = None, bucket: str = BUCKET
) -> dict[str, Any]:
    """An S3 ``Object Created``/``Object Deleted`` event as EventBridge delivers it."""
    obj: dict[str, Any] = {"key": key, "sequencer": "0062E99A88DC407460"}
    if version_id:
        obj["version-id"] = version_id
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Deleted" if deleted else "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": _now(),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": "BENCH",
            "requester": ACCOUNT,
            "reason": "DeleteObject" if deleted else "PutObject",
        },
    }


def scheduled_event() -> dict[str, Any]:
    """The drift schedule's event."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": _now(),
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/kops-iam-drift"],
        "detail": {},
    }


class World:
    """moto in-process with the stack's bucket and bus, and the handler's runtime."""

    def __init__(self, allowed_managed_policies: tuple[str, ...] = ()) -> None:
        apply_env()
        os.environ["KOPS_IAM_ALLOWED_MANAGED_POLICIES"] = ",".join(allowed_managed_policies)
        import boto3
        import moto

        self.mock = moto.mock_aws()
        self.mock.start()
        self.counter = CallCounter()
        self.session = boto3.session.Session(region_name=REGION)
        self.session.events.register("before-call", self.counter)
        with self.counter.paused():
            self.s3 = self.session.client("s3")
            self.iam = self.session.client("iam")
            self.events = self.session.client("events")
            self.s3.create_bucket(Bucket=BUCKET)
            self.s3.put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"}
            )
            self.events.create_event_bus(Name=BUS)
        from kops_iam.application import handler

        self.handler = handler
        self.runtime = handler.build_runtime(os.environ, account_id=ACCOUNT, session=self.session)
        handler.CONTAINER.install(self.runtime)
        self.counter.take()

    def close(self) -> None:
        self.handler.CONTAINER.install(None)
        self.mock.stop()

    def __enter__(self) -> World:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def create_policies(self, arns: list[str]) -> None:
        """Create customer managed policies a spec names (boundary, externalPolicies)."""
        document = json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}],
            }
        )
        with self.counter.paused():
            for arn in arns:
                name = arn.rsplit("/", 1)[-1]
                with contextlib.suppress(self.iam.exceptions.EntityAlreadyExistsException):
                    self.iam.create_policy(PolicyName=name, PolicyDocument=document)

    def put_spec(self, key: str, body: bytes) -> str | None:
        """Upload a spec object (not counted); return its version id."""
        with self.counter.paused():
            response = self.s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        return response.get("VersionId")

    def delete_spec(self, key: str) -> None:
        """Delete a spec object (not counted)."""
        with self.counter.paused():
            self.s3.delete_object(Bucket=BUCKET, Key=key)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call the deployed entry point ``lambda_handler`` (Powertools decorators included).

        Metrics the decorators print (EMF) are swallowed so the table stays readable.
        """
        with contextlib.redirect_stdout(io.StringIO()):
            result: dict[str, Any] = self.handler.lambda_handler(event, FakeContext())
        return result
