"""The in-process AWS world: moto (``mock_aws``) with the stack's resources, the function's
clients on a :class:`~support.wire.Wire`, and helpers that act and read as a test does.

Two boto3 sessions serve the whole process (their service models load once; clients are
made once and reused across worlds, as in a warm Lambda container):

* :data:`FUNCTION_SESSION` makes the function's clients. Every request they send goes
  through the current world's wire: counted, faultable, its IAM writes recorded.
* :data:`TEST_SESSION` makes the test's own clients (``world.inspect_*``): uploads,
  set-up, reading state back. Not on the wire, never counted or faulted.

:func:`world` provisions the stack's resources with the emulator's own code
(:func:`kops_iam_tools.world.provision`): the versioned specs bucket with both spec
deliveries (S3 notifications to one queue, S3 events through EventBridge to another),
the failure queue, the audit bus with its tail queue; plus, as asked, customer managed
policies and a KMS key with an alias.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import moto
from botocore.config import Config

from kops_iam.application import handler
from kops_iam.application.reconciler import Reconciler
from kops_iam.application.settings import Defaults, Settings
from kops_iam.domain.state_store import SPEC_KEY_SUFFIX
from kops_iam_tools.world import events as builders
from kops_iam_tools.world import moto_quirks
from kops_iam_tools.world.drift_queue import DriftQueue
from kops_iam_tools.world.function import LambdaContext
from kops_iam_tools.world.names import ACCOUNT, DELIVERIES, REGION
from kops_iam_tools.world.provision import Resources, drain, provision
from support import iam_state
from support.wire import Wire, attach

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "events" / "specs"
BUCKET = Defaults.SPECS_BUCKET
BUS = Defaults.AUDIT_BUS_NAME
#: The moment the world's events carry (reproducible audit times).
MOMENT = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)
#: moto's URL of the drift queue (the same in every in-process world).
DRIFT_QUEUE_URL = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{Defaults.DRIFT_QUEUE}"

moto_quirks.install()

_CURRENT: list[Wire] = []


def current_wire() -> Wire:
    assert _CURRENT, "no world is active (use support.world())"
    return _CURRENT[-1]


#: The function's session: every client it makes is on the current world's wire.
FUNCTION_SESSION = boto3.session.Session(region_name=REGION)
attach(FUNCTION_SESSION, current_wire)
#: The test's own session: set-up, uploads, reading state (not on the wire).
TEST_SESSION = boto3.session.Session(region_name=REGION)

#: The region of the clusters ``spec_builders`` builds (their subnets' zones): KMS aliases are
#: resolved there, not in the function's region (docs/adr/0075).
SPEC_REGION = "eu-west-1"

_FUNCTION_CLIENTS: dict[tuple[str, tuple[Any, ...], str], Any] = {}
_TEST_CLIENTS: dict[tuple[str, str], Any] = {}
_CLIENTS_LOCK = threading.Lock()


def _config_key(settings: Settings) -> tuple[Any, ...]:
    return (
        settings.retry_mode,
        settings.max_attempts,
        settings.connect_timeout,
        settings.read_timeout,
    )


def function_client(service: str, settings: Settings | None = None, region: str = REGION) -> Any:
    """The function's client of ``service`` with ``settings``' retries and timeouts (made
    once per process, configuration and region; on the wire)."""
    settings = settings or Settings()
    key = (service, _config_key(settings), region)
    with _CLIENTS_LOCK:
        if key not in _FUNCTION_CLIENTS:
            _FUNCTION_CLIENTS[key] = FUNCTION_SESSION.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                config=settings.boto_config(),
            )
        return _FUNCTION_CLIENTS[key]


def test_client(service: str, region: str = REGION) -> Any:
    """The test's own client of ``service`` (made once per process and region; not on the
    wire)."""
    with _CLIENTS_LOCK:
        if (service, region) not in _TEST_CLIENTS:
            # uploads without aws-chunked checksum encoding (pure Python, ~20 s each way
            # for a 100 MB body)
            config = Config(request_checksum_calculation="when_required")
            _TEST_CLIENTS[(service, region)] = TEST_SESSION.client(
                service,  # type: ignore[call-overload]
                region_name=region,
                config=config if service == "s3" else None,
            )
        return _TEST_CLIENTS[(service, region)]


def reset_retry_quotas() -> None:
    """Give every function client a full botocore retry quota (standard mode's bucket).

    The clients live for the whole process, as in a warm Lambda container, and each
    persistent fault drains their quota; with it empty botocore stops retrying and a
    single transient error fails the invocation. A faulted run that starts from healthy
    clients tests the retry path.
    """
    from botocore.retries.quota import RetryQuota
    from botocore.retries.standard import RetryQuotaChecker

    for client in list(_FUNCTION_CLIENTS.values()):
        hyphen = client.meta.service_model.service_id.hyphenize()
        for hook in client.meta.events._emitter._handlers.prefix_search(
            f"after-call.{hyphen}.Operation"
        ):
            checker = getattr(hook, "__self__", None)
            if isinstance(checker, RetryQuotaChecker):
                checker._quota = RetryQuota()


# -- events of this world -------------------------------------------------------------------


def object_event(key: str, version: str | None = None, *, deleted: bool = False) -> dict[str, Any]:
    """An S3 ``Object Created``/``Object Deleted`` event on the specs bucket via EventBridge."""
    return builders.object_event(key, version_id=version, deleted=deleted, when=MOMENT)


def scheduled_event() -> dict[str, Any]:
    """The drift schedule's event."""
    return builders.scheduled_event(when=MOMENT)


def context() -> LambdaContext:
    """A Lambda context for one invocation of the function in moto's account."""
    return LambdaContext()


# -- the world ------------------------------------------------------------------------------


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
    #: A drift run's invocations (the schedule's, then one per batch of checks).
    parts: list[Invocation] = field(default_factory=list)
    #: A drift run's checks that ended in the dead-letter queue (message bodies).
    dead_letters: list[dict[str, Any]] = field(default_factory=list)


class DeadLettered(Exception):
    """A drift period left checks in the drift queue's dead-letter queue."""


@dataclass
class World:
    """The moto AWS world of one test (or module)."""

    wire: Wire
    resources: Resources
    settings: Settings
    kms_alias: str | None = None

    # -- clients ---------------------------------------------------------------------

    @property
    def s3(self) -> Any:
        """The function's S3 client (on the wire)."""
        return function_client("s3", self.settings)

    @property
    def iam(self) -> Any:
        """The function's IAM client (on the wire)."""
        return function_client("iam", self.settings)

    @property
    def events(self) -> Any:
        """The function's EventBridge client (on the wire)."""
        return function_client("events", self.settings)

    @property
    def kms(self) -> Any:
        """The function's KMS client of its own region (on the wire)."""
        return function_client("kms", self.settings)

    def kms_in(self, region: str) -> Any:
        """The function's KMS client of ``region`` (on the wire): aliases are resolved in
        each cluster's region, as the Lambda's ``kms_factory`` does."""
        return function_client("kms", self.settings, region)

    @property
    def sqs(self) -> Any:
        """The test's SQS client: the queues are the test's to read."""
        return test_client("sqs")

    @property
    def inspect_s3(self) -> Any:
        """The test's own S3 client (not on the wire)."""
        return test_client("s3")

    @property
    def inspect_iam(self) -> Any:
        """The test's own IAM client (not on the wire)."""
        return test_client("iam")

    def client(self, service: str, **config: Any) -> Any:
        """A new function client of ``service`` (on the wire), for a test that hooks its
        own events on it; ``config`` as botocore's ``Config`` (default: the settings')."""
        return FUNCTION_SESSION.client(
            service,  # type: ignore[call-overload]
            config=Config(**config) if config else self.settings.boto_config(),
        )

    # -- names -------------------------------------------------------------------------

    @property
    def calls(self) -> Any:
        """The function's API calls (:class:`~support.wire.CallLog`)."""
        return self.wire.calls

    @property
    def bucket(self) -> str:
        return self.resources.bucket

    @property
    def bus(self) -> str:
        return self.resources.bus_name

    @property
    def account(self) -> str:
        return self.resources.account_id

    @property
    def audit_queue(self) -> str:
        return self.resources.audit_tail.url

    @property
    def spec_queue(self) -> str:
        return self.resources.deliveries["notification"].url

    @property
    def eventbridge_queue(self) -> str:
        return self.resources.deliveries["eventbridge"].url

    def key(self, cluster: str) -> str:
        return f"{cluster}{SPEC_KEY_SUFFIX}"

    # -- specs ---------------------------------------------------------------------------

    def put(self, key: str, body: bytes | str) -> dict[str, Any]:
        """Put an object in the specs bucket (as the test, not counted); S3's answer."""
        data = body.encode() if isinstance(body, str) else body
        response: dict[str, Any] = self.inspect_s3.put_object(
            Bucket=self.bucket, Key=key, Body=data
        )
        return response

    def upload(self, cluster: str, body: bytes | str) -> dict[str, Any]:
        """Put a cluster's spec (as the test, not counted); return S3's answer."""
        return self.put(self.key(cluster), body)

    def upload_version(self, cluster: str, body: bytes | str) -> str | None:
        """Put a spec; return its version id (``None`` in an unversioned bucket)."""
        version: str | None = self.upload(cluster, body).get("VersionId")
        return version

    def delete(self, cluster: str) -> None:
        """Delete a spec (a delete marker in a versioned bucket)."""
        self.inspect_s3.delete_object(Bucket=self.bucket, Key=self.key(cluster))

    def managed_policy(self, name: str, document: Mapping[str, Any] | None = None) -> str:
        """Create a customer managed policy (a placeholder unless given); return its ARN."""
        from kops_iam_tools.world.provision import PLACEHOLDER_DOCUMENT

        self.inspect_iam.create_policy(
            PolicyName=name, PolicyDocument=json.dumps(document or PLACEHOLDER_DOCUMENT)
        )
        return self.resources.managed_policy_arn(name)

    def staging_policies(self) -> None:
        """The boundary and external policy ``bastion-all-roles.yaml`` names."""
        self.managed_policy("kops-boundary")
        self.managed_policy("staging-node-extras")

    # -- the function ----------------------------------------------------------------------

    def with_settings(self, **changes: Any) -> Settings:
        return replace(self.settings, **changes)

    def staging_settings(self) -> Settings:
        """Settings of an operator who approved what ``bastion-all-roles.yaml`` asks for:
        its bastion may start SSM sessions (an escalation action, docs/adr/0062)."""
        options = replace(self.settings.options, allowed_actions=frozenset({"ssm:StartSession"}))
        return self.with_settings(options=options)

    def reconciler(self, settings: Settings | None = None, **clients: Any) -> Reconciler:
        """A reconciler on the world's function clients (``clients`` replace some)."""
        chosen = settings or self.settings
        kwargs: dict[str, Any] = {
            "iam": function_client("iam", chosen),
            "s3": function_client("s3", chosen),
            "events": function_client("events", chosen),
            # as the Lambda: a KMS client per cluster region (docs/adr/0075)
            "kms_factory": lambda region: function_client("kms", chosen, region),
            "sleep": lambda _s: None,
        }
        kwargs.update(clients)
        return Reconciler(chosen, **kwargs)

    def runtime(self, settings: Settings | None = None, **clients: Any) -> handler.Runtime:
        """The handler's runtime as ``build_runtime`` makes it, on the world's clients (a
        fresh IAM snapshot cache: a new container)."""
        from kops_iam.application.drift import SnapshotCache
        from kops_iam.aws.snapshot_store import SnapshotStore

        reconciler = self.reconciler(settings, **clients)
        chosen = reconciler.settings
        store = None
        if chosen.snapshot_bucket:
            s3 = clients.get("s3") or function_client("s3", chosen)
            store = SnapshotStore(s3, chosen.snapshot_bucket)
        return handler.Runtime(
            settings=chosen,
            reconciler=reconciler,
            snapshots=SnapshotCache(chosen.snapshot_max_age_seconds),
            store=store,
            sqs_factory=lambda: clients.get("sqs") or function_client("sqs", chosen),
        )

    def handle(
        self, event: Mapping[str, Any], runtime: handler.Runtime | None = None
    ) -> dict[str, Any]:
        """Run the handler on ``event`` (it raises as Lambda would see it fail)."""
        return handler.handle(dict(event), context(), runtime or self.runtime())

    def entry(
        self, event: Mapping[str, Any], runtime: handler.Runtime | None = None
    ) -> dict[str, Any]:
        """Call the deployed entry point ``lambda_handler`` (Powertools decorators
        included) with ``runtime`` installed as the container's."""
        handler.CONTAINER.install(runtime or self.runtime())
        try:
            result: dict[str, Any] = handler.lambda_handler(dict(event), context())
        finally:
            handler.CONTAINER.install(None)
        return result

    def invoke(
        self,
        event: Mapping[str, Any],
        runtime: handler.Runtime | None = None,
        *,
        concurrent: bool = False,
    ) -> Invocation:
        """Run the handler on ``event`` the way Lambda would; collect what happened.

        With ``concurrent``, the audit queue is left for the caller to drain and the
        applied writes are those of the calling thread only.
        """
        thread = threading.current_thread().name if concurrent else None
        before = len(self.wire.applied_writes(thread))
        gone_before = len(self.wire.gone_writes(thread))
        raised: BaseException | None = None
        summary = None
        lambda_context = context()
        try:
            summary = handler.handle(dict(event), lambda_context, runtime or self.runtime())
        except Exception as exc:  # Lambda would retry: that is what is recorded
            raised = exc
        audit = [] if concurrent else self.audit()
        applied = self.wire.applied_writes(thread)[before:]
        gone = self.wire.gone_writes(thread)[gone_before:]
        return Invocation(raised, summary, audit, applied, lambda_context.aws_request_id, gone)

    # -- drift: the schedule's run and the drift queue's (played) event source -------------

    @property
    def drift_queue(self) -> DriftQueue:
        """The drift queue, as its event source sees it (the test's SQS client)."""
        queue = self.resources.drift
        return DriftQueue(self.sqs, queue.url, queue.arn)

    def drift_checks(
        self,
        runtime: handler.Runtime | None = None,
        *,
        batch_size: int = 10,
        max_batches: int = 1000,
    ) -> list[Invocation]:
        """Hand the drift queue's checks to the handler, a batch at a time, until the queue
        is empty (failed checks come back at once; after their last delivery moto moves
        them to the dead-letter queue). One invocation per batch."""
        runtime = runtime or self.runtime()
        done: list[Invocation] = []
        for _ in range(max_batches):
            messages = self.drift_queue.receive(batch_size)
            if not messages:
                return done
            invocation = self.invoke(self.drift_queue.event(messages), runtime)
            self.drift_queue.settle(messages, invocation.summary)
            done.append(invocation)
        raise AssertionError(f"the drift queue still holds checks after {max_batches} batches")

    def drift_run(
        self, runtime: handler.Runtime | None = None, *, batch_size: int = 10
    ) -> Invocation:
        """A whole drift period: the schedule's event, then every check it queued.

        One :class:`Invocation` for it all: ``raised`` from the schedule's invocation, or
        :class:`DeadLettered` when checks ended in the drift queue's dead-letter queue
        (whose messages it drains into ``dead_letters``); ``summary`` with every outcome,
        the audit and IAM writes of every invocation; ``parts`` each invocation.
        """
        runtime = runtime or self.runtime()
        start = self.invoke(scheduled_event(), runtime)
        parts = [start]
        if start.raised is None:
            parts += self.drift_checks(runtime, batch_size=batch_size)
        outcomes = [o for p in parts if p.summary for o in p.summary.get("outcomes", [])]
        failures = [
            f for p in parts[1:] if p.summary for f in p.summary.get("batchItemFailures", [])
        ]
        dead = self.drift_dead_letters()
        raised = start.raised
        if raised is None and dead:
            raised = DeadLettered(f"{len(dead)} drift check(s) in the dead-letter queue")
        return Invocation(
            raised=raised,
            summary={
                "outcomes": outcomes,
                "drift": (start.summary or {}).get("drift"),
                "batchItemFailures": failures,
            },
            audit=[a for p in parts for a in p.audit],
            applied=[w for p in parts for w in p.applied],
            request_id=start.request_id,
            gone=[g for p in parts for g in p.gone],
            parts=parts,
            dead_letters=dead,
        )

    def drift_dead_letters(self) -> list[dict[str, Any]]:
        """Drift checks the queue gave up on (its dead-letter queue), bodies decoded."""
        return drain(self.sqs, self.resources.drift_dead_letters.url)

    # -- what moto delivered -----------------------------------------------------------------

    def notifications(self) -> list[dict[str, Any]]:
        """S3 event notifications moto sent (test events dropped)."""
        return [n for n in drain(self.sqs, self.spec_queue) if "Records" in n]

    def eventbridge_notifications(self) -> list[dict[str, Any]]:
        """S3 events moto delivered through EventBridge (Object Created/Deleted only)."""
        return [
            e
            for e in drain(self.sqs, self.eventbridge_queue)
            if e.get("detail-type") in ("Object Created", "Object Deleted")
        ]

    def deliver(self, runtime: handler.Runtime | None = None) -> list[dict[str, Any]]:
        """Hand every pending S3 notification to the handler, in order."""
        return [self.handle(n, runtime) for n in self.notifications()]

    def audit(self) -> list[dict[str, Any]]:
        """Audit events received on the audit bus (through the rule and the tail queue)."""
        return drain(self.sqs, self.audit_queue)

    # -- IAM state (read as the test: not counted) ----------------------------------------

    def role_names(self) -> set[str]:
        return iam_state.role_names(self.inspect_iam)

    def inline(self, role: str) -> dict[str, Any]:
        return iam_state.inline(self.inspect_iam, role)

    def tags(self, role: str) -> dict[str, str]:
        return iam_state.tags(self.inspect_iam, role)

    def snapshot(self) -> dict[str, Any]:
        """Every role the account holds (see :func:`support.iam_state.snapshot`)."""
        return iam_state.snapshot(self.inspect_iam)

    def cluster_state(self, cluster: str) -> dict[str, Any]:
        """One cluster's IAM state, comparable across clusters."""
        return iam_state.cluster_state(self.inspect_iam, cluster)


@contextmanager
def world(
    settings: Settings | None = None,
    *,
    versioned: bool = True,
    kms_key: bool = False,
    managed_policies: Iterable[str] = (),
) -> Iterator[World]:
    """A fresh moto world: state, wire, the stack's resources.

    ``kms_key`` adds a KMS key with the alias ``alias/etcd`` in the specs' region
    (:data:`SPEC_REGION`; ~0.3 s: moto makes a real RSA key); ``managed_policies`` names
    customer managed policies to create (placeholders).
    """
    base = settings or Settings(bucket=BUCKET, bus_name=BUS).with_account(ACCOUNT)
    base = replace(base, drift_queue_url=DRIFT_QUEUE_URL)
    if base.snapshot_bucket is None:  # as the stack: a snapshot bucket (docs/adr/0117)
        base = replace(base, snapshot_bucket=Defaults.SNAPSHOT_BUCKET)
    with moto.mock_aws():
        wire = Wire()
        _CURRENT.append(wire)
        try:
            resources = provision(
                test_client,
                bucket=base.bucket,
                bus_name=base.bus_name,
                deliveries=DELIVERIES,
                versioned=versioned,
                managed_policies=dict.fromkeys(managed_policies),
                drift_max_receives=base.drift_max_receives,
                snapshot_bucket=base.snapshot_bucket,
            )
            assert resources.drift.url == DRIFT_QUEUE_URL, resources.drift.url
            alias = None
            if kms_key:
                kms = test_client("kms", SPEC_REGION)
                key_id = kms.create_key(Description="etcd")["KeyMetadata"]["KeyId"]
                alias = "alias/etcd"
                kms.create_alias(AliasName=alias, TargetKeyId=key_id)
            yield World(wire=wire, resources=resources, settings=base, kms_alias=alias)
        finally:
            _CURRENT.remove(wire)
