"""A moto AWS world for fault injection and races, with a faithful record of what happened.

Every request of every client goes through one ``before-send`` hook (:class:`Wire`) that
hands it to moto itself, so the suite knows, independently of the code under test:

* every API call and attempt, per call site (``iam:PutRolePolicy``, ``s3:HeadObject``...);
* every IAM write moto really applied (status 2xx), in the audit format
  ``operation target/detail`` - the truth audit events are checked against;
* and it can make any attempt fail instead: throttling or 5xx answers in the service's own
  wire protocol, a ``ConnectTimeoutError`` (never sent), or a ``ReadTimeoutError`` after
  moto applied the request (the response was lost: the dangerous kind for writes).

The world also has the specs bucket (versioned), the audit bus with a rule copying every
kops-iam event to a queue, managed policies for boundaries and external policies, a KMS key
with an alias, and helpers to build the events Lambda would receive.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
import moto
from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError
from moto.core.models import botocore_stubber

from kops_iam.application import handler
from kops_iam.application.reconciler import Reconciler
from kops_iam.application.settings import Defaults, Settings
from kops_iam.aws.audit import AUDIT_SOURCE, audit_event_pattern

REGION = "us-east-1"
#: The region of the clusters rel_scenarios builds (where their etcd key alias lives).
SPEC_REGION = "eu-west-1"
ACCOUNT = "123456789012"
BUCKET = Defaults.SPECS_BUCKET
BUS = Defaults.AUDIT_BUS_NAME
SESSION = boto3.session.Session(region_name=REGION)  # after importing moto
READ_PREFIXES = ("Get", "List", "Head", "Describe")
FAULT_KINDS = ("throttle", "server-error", "connect-timeout", "lost-response")


def describe_write(operation: str, params: dict[str, Any]) -> str:
    """An IAM write in the audit format: ``operation target/detail``."""
    name = xform_name(operation)
    target = params.get("RoleName") or params.get("InstanceProfileName") or ""
    detail = params.get("PolicyName") or params.get("PolicyArn")
    if name in ("add_role_to_instance_profile", "remove_role_from_instance_profile"):
        detail, target = params.get("RoleName"), params.get("InstanceProfileName", "")
    return f"{name} {target}" + (f"/{detail}" if detail else "")


def is_iam_write(service: str, operation: str) -> bool:
    return service == "iam" and not operation.startswith(READ_PREFIXES)


# -- faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    """Fail call site ``site`` (``service:Operation``): its ``nth`` call (1-based; 0 = every
    call) on ``attempts`` consecutive attempts (0 = every attempt), with ``kind``."""

    site: str
    kind: str
    nth: int = 1
    attempts: int = 1
    injected: int = 0
    _calls: int = 0
    _failed_attempts: int = 0

    @property
    def persistent(self) -> bool:
        return self.nth == 0 and self.attempts == 0

    def on_call(self) -> None:
        self._calls += 1
        self._failed_attempts = 0

    def should_fail(self) -> bool:
        if self.nth and self._calls != self.nth:
            return False
        if self.attempts and self._failed_attempts >= self.attempts:
            return False
        self._failed_attempts += 1
        self.injected += 1
        return True


def _error_response(protocol: str, kind: str, request: Any) -> AWSResponse:
    status, code = (400, "Throttling") if kind == "throttle" else (503, "ServiceUnavailable")
    headers: dict[str, str] = {}
    if protocol in ("json", "rest-json"):
        if kind == "throttle":
            code = "ThrottlingException"
        body = json.dumps({"__type": code, "message": "injected"}).encode()
        headers = {"x-amzn-errortype": code, "content-type": "application/x-amz-json-1.1"}
    elif protocol == "rest-xml":  # S3
        if kind == "throttle":
            status, code = 503, "SlowDown"
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{code}</Code>"
            "<Message>injected</Message><RequestId>injected</RequestId></Error>"
        ).encode()
    else:  # query (IAM)
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
            f"<Message>injected</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
    return AWSResponse(request.url, status, headers, _Raw(body))


def _iam_error(request: Any, status: int, code: str) -> AWSResponse:
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>emulated</Message></Error><RequestId>emulated</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse(request.url, status, {}, _Raw(body))


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


# -- the wire -------------------------------------------------------------------------------


@dataclass
class Wire:
    """Every request of the world's clients: moto answers, faults intervene, all recorded."""

    calls: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    #: IAM writes moto applied (2xx), in order, per thread name.
    applied: list[tuple[str, str]] = field(default_factory=list)
    #: IAM deletes/detaches/removals moto answered NoSuchEntity (already gone), per thread.
    gone: list[tuple[str, str]] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    #: Called before every API call (the race scheduler's checkpoint).
    checkpoint: Callable[[str], None] | None = None
    #: Called with (service, operation, params) before every API call (privilege capture).
    observer: Callable[[str, str, dict[str, Any]], None] | None = None
    observer_errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    def _before_call(self, service: str, model: Any, params: dict[str, Any]) -> None:
        site = f"{service}:{model.name}"
        if self.checkpoint is not None:
            self.checkpoint(site)
        self._local.params = dict(params)
        if self.observer is not None:
            try:
                self.observer(service, model.name, dict(params))
            except Exception as exc:  # never into the code under test: reported by the test
                self.observer_errors.append(f"{service}:{model.name}: {exc!r}")
        with self._lock:
            self.calls[site] += 1
            for fault in self.faults:
                if fault.site == site:
                    fault.on_call()

    def _send(self, service: str, protocol: str, request: Any, event_name: str) -> AWSResponse:
        operation = event_name.rsplit(".", 1)[-1]
        site = f"{service}:{operation}"
        with self._lock:
            self.attempts[site] += 1
            fault = next((f for f in self.faults if f.site == site and f.should_fail()), None)
            if fault is not None:
                self.injected[f"{site}:{fault.kind}"] += 1
        if fault is not None and fault.kind in ("throttle", "server-error"):
            return self._detach(request, _error_response(protocol, fault.kind, request))
        if fault is not None and fault.kind == "connect-timeout":
            self._detach(request, None)
            raise ConnectTimeoutError(endpoint_url=request.url)
        try:
            response = botocore_stubber(event_name, request)
        except ValueError:
            # moto gap: RemoveRoleFromInstanceProfile for a role no longer in the profile
            # raises list.remove's ValueError; AWS answers NoSuchEntity (404).
            if operation != "RemoveRoleFromInstanceProfile":
                raise
            response = _iam_error(request, 404, "NoSuchEntity")
        if response is None:
            raise AssertionError(f"moto did not answer {site}")
        if is_iam_write(service, operation):
            written = (
                threading.current_thread().name,
                describe_write(operation, self._local.params),
            )
            if response.status_code < 300:
                with self._lock:
                    self.applied.append(written)
            elif operation.startswith(("Delete", "Detach", "Remove")) and b"NoSuchEntity" in (
                response.content or b""
            ):
                with self._lock:  # a cleanup that found the thing already gone
                    self.gone.append(written)
        if fault is not None:  # lost-response: applied (or refused) by moto, answer never seen
            self._detach(request, None)
            raise ReadTimeoutError(endpoint_url=request.url)
        return self._detach(request, response)

    @staticmethod
    def _detach(request: Any, response: AWSResponse | None) -> AWSResponse:
        # moto's own before-send hook runs after this one: point it elsewhere so the request
        # is not processed a second time.
        request.url = "https://answered-by-the-reliability-wire.invalid/"
        return response  # type: ignore[return-value]

    def applied_writes(self, thread: str | None = None) -> list[str]:
        with self._lock:
            return [w for t, w in self.applied if thread is None or t == thread]

    def gone_writes(self, thread: str | None = None) -> list[str]:
        with self._lock:
            return [w for t, w in self.gone if thread is None or t == thread]

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.attempts.clear()
            self.applied.clear()
            self.gone.clear()


# -- the world ------------------------------------------------------------------------------


@dataclass
class World:
    s3: Any
    iam: Any
    events: Any
    sqs: Any
    kms: Any
    inspect_iam: Any  # not on the wire: reads and tampers with state for the oracle
    inspect_s3: Any  # not on the wire: the test's own uploads and deletes
    wire: Wire
    audit_queue: str
    settings: Settings
    kms_alias: str

    def key(self, cluster: str) -> str:
        return f"{cluster}/config"

    def upload(self, cluster: str, body: str | bytes) -> str | None:
        data = body.encode() if isinstance(body, str) else body
        response = self.inspect_s3.put_object(Bucket=BUCKET, Key=self.key(cluster), Body=data)
        version: str | None = response.get("VersionId")
        return version

    def delete(self, cluster: str) -> None:
        self.inspect_s3.delete_object(Bucket=BUCKET, Key=self.key(cluster))

    def runtime(self, settings: Settings | None = None) -> handler.Runtime:
        from aws_lambda_powertools import Tracer

        reconciler = Reconciler(
            settings or self.settings,
            iam=self.iam,
            s3=self.s3,
            events=self.events,
            kms=self.kms,
            sleep=lambda _s: None,
        )
        return handler.Runtime(settings=reconciler.settings, reconciler=reconciler, tracer=Tracer())

    def audit(self) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(
                QueueUrl=self.audit_queue, MaxNumberOfMessages=10
            ).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(
                    QueueUrl=self.audit_queue, ReceiptHandle=message["ReceiptHandle"]
                )

    def snapshot(self, cluster: str) -> dict[str, Any]:
        """What IAM holds for one cluster (ids and dates left out, the name a placeholder)."""
        iam = self.inspect_iam
        state: dict[str, Any] = {}
        for prefix in ("masters.", "nodes.", "bastions."):
            name = prefix + cluster
            try:
                data = iam.get_role(RoleName=name)["Role"]
            except iam.exceptions.NoSuchEntityException:
                data = None
            try:
                profile = iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
                state[f"profile:{prefix}"] = sorted(r["RoleName"] for r in profile["Roles"])
            except iam.exceptions.NoSuchEntityException:
                pass
            if data is None:
                continue
            policies = iam.list_role_policies(RoleName=name)["PolicyNames"]
            state[f"role:{prefix}"] = {
                "path": data.get("Path"),
                "trust": data["AssumeRolePolicyDocument"],
                "tags": {t["Key"]: t["Value"] for t in data.get("Tags", [])},
                "boundary": data.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn"),
                "inline": {
                    p: iam.get_role_policy(RoleName=name, PolicyName=p)["PolicyDocument"]
                    for p in sorted(policies)
                },
                "managed": sorted(
                    p["PolicyArn"]
                    for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]
                ),
            }
        return json.loads(json.dumps(state, sort_keys=True).replace(cluster, "<cluster>"))


def object_event(key: str, version: str | None, deleted: bool = False) -> dict[str, Any]:
    """An S3 event as EventBridge delivers it to the function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Object Deleted" if deleted else "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": "2026-01-15T10:30:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, **({"version-id": version} if version else {})},
            "reason": "DeleteObject" if deleted else "PutObject",
        },
    }


def scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": "2026-01-15T12:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/kops-iam-drift"],
        "detail": {},
    }


@dataclass
class FakeContext:
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_name: str = "kops-iam-reconciler"
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:kops-iam-reconciler"

    def get_remaining_time_in_millis(self) -> int:
        return 300_000


@dataclass
class Invocation:
    """One handler invocation: whether it raised, its summary, the audit it produced, and
    the IAM writes moto applied while it ran."""

    raised: BaseException | None
    summary: dict[str, Any] | None
    audit: list[dict[str, Any]]
    applied: list[str]
    request_id: str = ""
    #: Cleanups this invocation made that found the thing already gone (NoSuchEntity).
    gone: list[str] = field(default_factory=list)


def invoke(
    world: World,
    event: dict[str, Any],
    runtime: handler.Runtime | None = None,
    *,
    concurrent: bool = False,
) -> Invocation:
    """Run the handler on ``event`` the way Lambda would; collect what happened.

    With ``concurrent``, the audit queue is left for the caller to drain and the applied
    writes are those of the calling thread only.
    """
    thread = threading.current_thread().name if concurrent else None
    before = len(world.wire.applied_writes(thread))
    gone_before = len(world.wire.gone_writes(thread))
    raised: BaseException | None = None
    summary = None
    context = FakeContext()
    try:
        summary = handler.handle(event, context, runtime or world.runtime())
    except Exception as exc:  # Lambda would retry: that is what is recorded
        raised = exc
    audit = [] if concurrent else world.audit()
    applied = world.wire.applied_writes(thread)[before:]
    gone = world.wire.gone_writes(thread)[gone_before:]
    return Invocation(raised, summary, audit, applied, context.aws_request_id, gone)


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


_CLIENTS: dict[str, Any] = {}
_CURRENT: list[Wire] = []


def reset_retry_quotas() -> None:
    """Give every client a full botocore retry quota (standard mode's token bucket).

    The clients live for the whole process, as in a warm Lambda container, and each
    persistent fault drains their quota; with it empty botocore stops retrying and a
    single transient error fails the invocation (Lambda then retries it: loud, not lost).
    Each faulted run starts from a healthy client so that a transient fault tests the
    retry path.
    """
    from botocore.retries.quota import RetryQuota
    from botocore.retries.standard import RetryQuotaChecker

    for client in _CLIENTS.values():
        hyphen = client.meta.service_model.service_id.hyphenize()
        for hook in client.meta.events._emitter._handlers.prefix_search(
            f"after-call.{hyphen}.Operation"
        ):
            checker = getattr(hook, "__self__", None)
            if isinstance(checker, RetryQuotaChecker):
                checker._quota = RetryQuota()


def _wire() -> Wire:
    assert _CURRENT, "no reliability world is active"
    return _CURRENT[-1]


def _client(name: str, settings: Settings, wire_it: bool) -> Any:
    """Clients are made once per process (their service models load once); their hooks
    dispatch to the current world's :class:`Wire`."""
    key = f"{name}:{wire_it}"
    if key not in _CLIENTS:
        config = settings.boto_config()
        if name == "s3" and not wire_it:
            # the test's own uploads: no aws-chunked checksum encoding (pure Python, ~20 s
            # each way for a 100 MB body)
            config = config.merge(Config(request_checksum_calculation="when_required"))
        # KMS aliases resolve in the cluster's region: rel_scenarios' specs are in eu-west-1.
        region = SPEC_REGION if name == "kms" else REGION
        client = SESSION.client(name, region_name=region, config=config)
        if wire_it:
            model = client.meta.service_model
            service, hyphen, protocol = (
                model.service_name,
                model.service_id.hyphenize(),
                model.protocol,
            )
            client.meta.events.register(
                f"before-parameter-build.{hyphen}",
                lambda model, params, **_: _wire()._before_call(service, model, params),
            )
            client.meta.events.register(
                f"before-send.{hyphen}",
                lambda request, event_name, **_: _wire()._send(
                    service, protocol, request, event_name
                ),
            )
        _CLIENTS[key] = client
    return _CLIENTS[key]


@contextmanager
def world(
    settings: Settings | None = None, *, kms_key: bool = True, versioned: bool = True
) -> Iterator[World]:
    """A fresh moto world (state, wire, bucket, bus, queue, policies, KMS key)."""
    base = settings or Settings(bucket=BUCKET, bus_name=BUS).with_account(ACCOUNT)
    with moto.mock_aws():
        wire = Wire()
        _CURRENT.append(wire)
        try:
            clients = {n: _client(n, base, True) for n in ("s3", "iam", "events", "kms")}
            sqs = _client("sqs", base, False)
            inspect_iam = _client("iam", base, False)
            inspect_s3 = _client("s3", base, False)
            s3 = clients["s3"]
            s3.create_bucket(Bucket=BUCKET)
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
            audit_url, audit_arn = _queue(sqs, "audit-tail")
            events = clients["events"]
            events.create_event_bus(Name=BUS)
            events.put_rule(
                Name="audit", EventBusName=BUS, EventPattern=json.dumps(audit_event_pattern())
            )
            events.put_targets(
                Rule="audit", EventBusName=BUS, Targets=[{"Id": "q", "Arn": audit_arn}]
            )
            for name in ("kops-boundary", "kops-extra", "kops-extra-2", "tamper"):
                inspect_iam.create_policy(
                    PolicyName=name,
                    PolicyDocument=json.dumps(
                        {
                            "Version": "2012-10-17",
                            "Statement": [
                                {
                                    "Effect": "Allow",
                                    "Action": "s3:ListAllMyBuckets",
                                    "Resource": "*",
                                }
                            ],
                        }
                    ),
                )
            kms = clients["kms"]
            if kms_key:  # ~0.3 s: moto makes a real RSA key
                key_id = kms.create_key(Description="etcd")["KeyMetadata"]["KeyId"]
                kms.create_alias(AliasName="alias/etcd", TargetKeyId=key_id)
            wire.reset_counts()
            assert AUDIT_SOURCE
            yield World(
                s3=s3,
                iam=clients["iam"],
                events=events,
                sqs=sqs,
                kms=kms,
                inspect_iam=inspect_iam,
                inspect_s3=inspect_s3,
                wire=wire,
                audit_queue=audit_url,
                settings=base,
                kms_alias="alias/etcd",
            )
        finally:
            _CURRENT.remove(wire)
