"""The embedded AWS: moto's server on 127.0.0.1, wired as the stack wires the real thing.

:class:`Emulator` starts moto's ``ThreadedMotoServer`` on the loopback interface only (a free
port unless one is asked for) and creates the stack's resources there with
:func:`kops_iam_tools.world.provision` (the same code that builds the in-process test
worlds): the versioned specs bucket with its spec deliveries (S3 notifications in
``notification`` delivery; S3 events through EventBridge and a rule in ``eventbridge``
delivery, the stack's existing-bucket mode), the audit bus and its tail queue, and the
failure queue where an event lands after the runner's last attempt as the record Lambda's
on-failure destination writes (the event under ``requestPayload``; ADR 72). moto's gaps
are worked around by :mod:`kops_iam_tools.world.moto_quirks`.

moto cannot run Lambda code, so :class:`Runner` plays Lambda: it long-polls the delivery
queue and hands each S3 notification (or S3 event from EventBridge) to the very
``lambda_handler`` the function runs, with the environment the stack gives
the function (:func:`function_environment`) plus ``AWS_ENDPOINT_URL`` pointing here, and a
Lambda context whose ARN is in moto's account. A failed invocation is retried (the message
becomes visible again) and, after the last attempt, the runner puts Lambda's on-failure
record of it in the failure queue. A scheduled run is :meth:`Runner.run_schedule` (the drift
rule's event), as the stack's schedule rule invokes the function directly; it puts one drift
check per cluster on the drift queue, which the runner drains as the queue's event source
does (:class:`~kops_iam_tools.world.drift_queue.DriftQueue`: batches of checks, failed ones
left to come back). :meth:`Runner.run_drift` does both and waits for the queue to empty.

moto keeps its state per process (every server thread shares it), so one process runs one
emulator at a time; :meth:`Emulator.stop` discards the state.

Import-light: moto, boto3 and the handler load inside the functions that need them (the CLI
imports this module's command at start-up).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from kops_iam.application.settings import Defaults
from kops_iam.domain.state_store import SPEC_KEY_SUFFIX, cluster_from_key
from kops_iam_tools.world import events as world_events
from kops_iam_tools.world import moto_quirks
from kops_iam_tools.world.drift_queue import DriftQueue
from kops_iam_tools.world.function import (
    LOOPBACK,
    FunctionConfig,
    LambdaContext,
    function_arn,
    function_environment,
    session_from_environment,
)
from kops_iam_tools.world.names import (
    DELIVERIES,
    DELIVERY_ATTEMPTS,
    REGION,
    Delivery,
)
from kops_iam_tools.world.provision import Resources, drain, provision

if TYPE_CHECKING:  # pragma: no cover - typing only
    import boto3
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient

    from kops_iam.application.handler import Runtime

log = logging.getLogger("kops-iam.emulator")

#: The public face (the world's own names live in kops_iam_tools.world).
__all__ = [
    "DELIVERY_ATTEMPTS",
    "Emulator",
    "EmulatorError",
    "FunctionConfig",
    "Invocation",
    "Runner",
    "clusters_of",
    "placeholder_policy",
    "route_function_output",
]

DEFAULT_REGION: Final = REGION
#: SQS long-poll wait: the runner notices a stop request within this many seconds.
POLL_SECONDS: Final = 1
#: Message attribute of the message :meth:`Runner.stop` sends to end a long poll at once.
_STOP_ATTRIBUTE: Final = "kops-iam-runner-stop"
#: Drift checks the runner hands the function at once (the stack's event source takes more).
DRIFT_BATCH_SIZE: Final = 10


class EmulatorError(RuntimeError):
    """The emulator could not start (port in use, moto missing, ...)."""


# --------------------------------------------------------------------------- the emulator


@dataclass
class Emulator:
    """moto's server on 127.0.0.1 with the stack's resources. Use as a context manager.

    Parameters
    ----------
    port
        TCP port to listen on; 0 picks a free one.
    delivery
        ``"notification"``: the bucket's S3 notifications (the stack's own bucket);
        ``"eventbridge"``: S3 events through EventBridge (the stack's existing-bucket mode).
    bucket, bus_name, region
        Names (the stack's defaults) and the region the clients use.
    function
        The function's configuration (as the stack would set it).
    managed_policies
        Customer managed policies to create first, name -> policy document.
    console
        Also copy the audit events to a console queue (see :meth:`console_events`).
    """

    port: int = 0
    delivery: Delivery = "notification"
    bucket: str = Defaults.SPECS_BUCKET
    bus_name: str = Defaults.AUDIT_BUS_NAME
    region: str = DEFAULT_REGION
    function: FunctionConfig = field(default_factory=FunctionConfig)
    managed_policies: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    console: bool = False

    def __post_init__(self) -> None:
        if self.delivery not in DELIVERIES:
            raise ValueError(f"delivery must be one of {DELIVERIES}, not {self.delivery!r}")
        self._server: Any = None
        self._clients: dict[str, Any] = {}
        self.endpoint_url = ""
        self.account_id = ""
        self.delivery_queue_url = ""
        self.audit_queue_url = ""
        self.failure_queue_url = ""
        self.drift_queue_url = ""
        self.snapshot_bucket = ""
        self.console_queue_url = ""
        self.session: boto3.session.Session | None = None
        self.resources: Resources | None = None

    # -- lifecycle ------------------------------------------------------------------

    def __enter__(self) -> Emulator:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Whether the server is up."""
        return self._server is not None

    def start(self) -> Emulator:
        """Start the server on 127.0.0.1 and create the stack's resources.

        Raises
        ------
        EmulatorError
            moto (``pip install 'kops-iam[local]'``) is missing or the port is taken.
        """
        if self._server is not None:
            return self
        server = _start_server(self.port)
        moto_quirks.install()
        host, port = server.get_host_and_port()
        self._server = server
        self.endpoint_url = f"http://{host}:{port}"
        try:
            self.session = session_from_environment(self.environment())
            self._provision()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the server and discard the emulated state. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        try:
            _reset_moto()
        finally:
            server.stop()
            self._clients.clear()

    @property
    def port_number(self) -> int:
        """The port the server listens on."""
        return int(self.endpoint_url.rsplit(":", 1)[1]) if self.endpoint_url else 0

    # -- clients and names ----------------------------------------------------------

    def client(self, service: str) -> Any:
        """A boto3 client of ``service`` on the emulator (one per service, shared)."""
        if self.session is None:
            raise EmulatorError("the emulator is not running")
        if service not in self._clients:
            self._clients[service] = self.session.client(service)  # type: ignore[call-overload]
        return self._clients[service]

    @property
    def s3(self) -> S3Client:
        """S3 client on the emulator."""
        client: S3Client = self.client("s3")
        return client

    @property
    def iam(self) -> IAMClient:
        """IAM client on the emulator."""
        client: IAMClient = self.client("iam")
        return client

    @property
    def sqs(self) -> SQSClient:
        """SQS client on the emulator."""
        client: SQSClient = self.client("sqs")
        return client

    @property
    def events(self) -> EventBridgeClient:
        """EventBridge client on the emulator."""
        client: EventBridgeClient = self.client("events")
        return client

    def environment(self) -> dict[str, str]:
        """The function's environment on this emulator (see :func:`function_environment`)."""
        return function_environment(
            self.function,
            bucket=self.bucket,
            bus_name=self.bus_name,
            drift_queue_url=self.drift_queue_url,
            snapshot_bucket=self.snapshot_bucket,
            endpoint_url=self.endpoint_url,
            region=self.region,
        )

    def drift_queue(self) -> DriftQueue:
        """The drift queue, as its event source sees it."""
        if self.resources is None:
            raise EmulatorError("the emulator is not running")
        queue = self.resources.drift
        return DriftQueue(self.sqs, queue.url, queue.arn, self.region)

    def spec_key(self, cluster: str) -> str:
        """Object key of a cluster's spec (the kops state-store layout)."""
        return f"{cluster}{SPEC_KEY_SUFFIX}"

    def lambda_context(self) -> LambdaContext:
        """A fresh Lambda context for one invocation."""
        return LambdaContext(invoked_function_arn=function_arn(self.region, self.account_id))

    def scheduled_event(self) -> dict[str, Any]:
        """The drift schedule's event, for this emulator's region and account."""
        return world_events.scheduled_event(region=self.region, account=self.account_id)

    def managed_policy_arn(self, name: str) -> str:
        """ARN of a customer managed policy in the emulator's account."""
        return f"arn:aws:iam::{self.account_id}:policy/{name}"

    # -- resources ------------------------------------------------------------------

    def _provision(self) -> None:
        resources = provision(
            self.client,
            bucket=self.bucket,
            bus_name=self.bus_name,
            region=self.region,
            deliveries=(self.delivery,),
            console=self.console,
            managed_policies=self.managed_policies,
        )
        self.resources = resources
        self.account_id = resources.account_id
        self.failure_queue_url = resources.failure.url
        self.drift_queue_url = resources.drift.url
        self.snapshot_bucket = resources.snapshot_bucket
        self.delivery_queue_url = resources.deliveries[self.delivery].url
        self.audit_queue_url = resources.audit_tail.url
        self.console_queue_url = resources.console.url if resources.console else ""

    # -- reading ----------------------------------------------------------------------

    def audit_events(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Audit events received on the tail queue since the last call (oldest first)."""
        return drain(self.sqs, self.audit_queue_url, wait_seconds)

    def console_events(self) -> list[dict[str, Any]]:
        """Audit events received on the console copy since the last call (``console=True``)."""
        return drain(self.sqs, self.console_queue_url) if self.console_queue_url else []

    def failed_events(self, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Events whose every delivery attempt failed (the failure queue), since last call."""
        return drain(self.sqs, self.failure_queue_url, wait_seconds)

    def failed_drift_checks(self) -> list[dict[str, Any]]:
        """Drift checks the drift queue gave up on (its dead-letter queue), since last call."""
        if self.resources is None:
            return []
        return drain(self.sqs, self.resources.drift_dead_letters.url)


def _start_server(port: int) -> Any:
    """moto's threaded server on the loopback interface, started; werkzeug kept quiet."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise EmulatorError(
            "the embedded AWS needs moto's server: pip install 'kops-iam[local]' "
            f"(or make install) ({exc})"
        ) from exc
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    if port:
        _check_port_free(port)

    class Server(ThreadedMotoServer):
        """Reports a failure to bind instead of leaving ``start()`` waiting forever."""

        error: BaseException | None = None

        def _server_entry(self) -> None:
            try:
                super()._server_entry()
            except BaseException as exc:  # noqa: BLE001 - handed to start()
                self.error = exc
                self._server_ready_event.set()

    server = Server(ip_address=LOOPBACK, port=port, verbose=False)
    server.start()
    if server.error is not None:
        error = server.error
        if isinstance(error, OSError | SystemExit):  # werkzeug exits when the port is taken
            raise EmulatorError(_port_taken(port, getattr(error, "strerror", None))) from error
        raise EmulatorError(f"the embedded AWS did not start: {error}") from error
    return server


def _port_taken(port: int, reason: str | None) -> str:
    return (
        f"cannot listen on {LOOPBACK}:{port}: {reason or 'address already in use'} "
        "(another program, or another kops-iam local, uses it: pick another with --port, "
        "or leave --port out for a free one)"
    )


def _check_port_free(port: int) -> None:
    """Fail with a clear message when ``port`` is taken (werkzeug would print and exit)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as werkzeug binds
        try:
            probe.bind((LOOPBACK, port))
        except OSError as exc:
            raise EmulatorError(_port_taken(port, exc.strerror)) from exc


def _reset_moto() -> None:
    """Discard moto's in-process state (every service, every account)."""
    from moto.moto_api._internal.models import moto_api_backend

    moto_api_backend.reset()


# --------------------------------------------------------------------------- the runner


@dataclass(frozen=True)
class Invocation:
    """One call of ``lambda_handler`` by the runner."""

    request_id: str
    event: Mapping[str, Any]
    attempt: int
    seconds: float
    result: Mapping[str, Any] | None = None
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        """Whether the handler returned (Lambda would not retry)."""
        return self.error is None

    @property
    def outcomes(self) -> list[Mapping[str, Any]]:
        """The handler's per-key outcomes (``key``, ``cluster``, ``detailType``, ...)."""
        return list(self.result.get("outcomes", [])) if self.result else []

    @property
    def keys(self) -> tuple[str, ...]:
        """Spec keys the event names (whatever the outcome)."""
        return _event_keys(self.event)

    @property
    def scheduled(self) -> bool:
        """Whether this was the drift schedule's run (it queues the drift checks)."""
        return self.event.get("detail-type") == "Scheduled Event"

    @property
    def drift_checks(self) -> bool:
        """Whether this was a batch of drift checks from the drift queue."""
        return bool(_parsed(self.event).checks) if "Records" in self.event else False


def _parsed(event: Mapping[str, Any]) -> Any:
    from kops_iam.aws.events import ParsedEvent, UnsupportedEvent, parse_event

    try:
        return parse_event(event)
    except UnsupportedEvent:
        return ParsedEvent()


def _event_keys(event: Mapping[str, Any]) -> tuple[str, ...]:
    parsed = _parsed(event)
    return tuple(o.key for o in parsed.objects) + tuple(c.key for c in parsed.checks)


#: moto's state and the handler's container are per process: invocations take turns.
_HANDLER_LOCK = threading.Lock()


class Runner:
    """Plays Lambda for the emulator: delivers queued events to ``lambda_handler``.

    Parameters
    ----------
    emulator
        A started :class:`Emulator`.
    on_invocation
        Called (on the runner's thread) after every invocation.
    """

    def __init__(
        self,
        emulator: Emulator,
        *,
        on_invocation: Callable[[Invocation], None] | None = None,
    ) -> None:
        if not emulator.running or emulator.session is None:
            raise EmulatorError("start the emulator before its runner")
        from kops_iam.application.handler import build_runtime

        self.emulator = emulator
        self._on_invocation = on_invocation
        self.environment = emulator.environment()
        self.runtime: Runtime = build_runtime(
            self.environment,
            account_id=emulator.account_id,
            session=session_from_environment(self.environment),
        )
        self._sqs = emulator.sqs
        self._drift = emulator.drift_queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._drift_thread: threading.Thread | None = None
        self._changed = threading.Condition()
        self.invocations: list[Invocation] = []
        self._in_drift_batch = threading.Lock()

    # -- lifecycle ----------------------------------------------------------------------

    def __enter__(self) -> Runner:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> Runner:
        """Start polling the delivery queue and the drift queue on background threads."""
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="kops-iam-runner", daemon=True)
            self._thread.start()
            self._drift_thread = threading.Thread(
                target=self._drift_loop, name="kops-iam-runner-drift", daemon=True
            )
            self._drift_thread.start()
        return self

    def stop(self, timeout: float = POLL_SECONDS + 5) -> None:
        """Stop polling; wait for the invocation in progress to end."""
        thread, self._thread = self._thread, None
        drift, self._drift_thread = self._drift_thread, None
        if thread is None:
            return
        self._stop.set()
        for url in (self.emulator.delivery_queue_url, self._drift.url):
            try:  # wake the long polls instead of waiting for them to time out
                self._sqs.send_message(
                    QueueUrl=url,
                    MessageBody="{}",
                    MessageAttributes={_STOP_ATTRIBUTE: {"DataType": "String", "StringValue": "1"}},
                )
            except Exception as exc:  # noqa: BLE001 - the poll then ends on its own
                log.debug("could not wake the runner: %s", exc)
        thread.join(timeout)
        if drift is not None:
            drift.join(timeout)

    # -- invoking -----------------------------------------------------------------------

    def invoke(self, event: Mapping[str, Any], attempt: int = 1) -> Invocation:
        """Call ``lambda_handler`` with ``event`` now, as Lambda would; record the result."""
        from kops_iam.application import handler

        context = self.emulator.lambda_context()
        started = time.perf_counter()
        result: Mapping[str, Any] | None = None
        error: str | None = None
        trace: str | None = None
        with _HANDLER_LOCK:
            handler.CONTAINER.install(self.runtime)
            try:
                result = handler.lambda_handler(dict(event), context)
            except Exception as exc:  # noqa: BLE001 - Lambda records the failure and retries
                error = f"{type(exc).__name__}: {exc}"
                trace = traceback.format_exc()
            finally:
                handler.CONTAINER.install(None)
        invocation = Invocation(
            request_id=context.aws_request_id,
            event=event,
            attempt=attempt,
            seconds=time.perf_counter() - started,
            result=result,
            error=error,
            traceback=trace,
        )
        with self._changed:
            self.invocations.append(invocation)
            self._changed.notify_all()
        if self._on_invocation is not None:
            try:
                self._on_invocation(invocation)
            except Exception:  # a reporting problem must not stop the runner
                log.exception("on_invocation callback failed")
        return invocation

    def run_schedule(self) -> Invocation:
        """Invoke the function with the drift schedule's event (it queues the checks)."""
        return self.invoke(self.emulator.scheduled_event())

    def run_drift(self, timeout: float = 60.0) -> list[Invocation]:
        """A drift period: the schedule's invocation, then the batches of drift checks the
        runner took from the drift queue until it was empty; their invocations.

        Raises
        ------
        TimeoutError
            The queue still held checks after ``timeout`` seconds (a check failing until
            its last delivery takes the queue's back-off to come back).
        """
        since = len(self.invocations)
        schedule = self.run_schedule()
        if not schedule.ok or self._thread is None:
            return self.invocations[since:]
        deadline = time.monotonic() + timeout
        while self._drift.depth() > 0 or self._in_drift_batch.locked():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the drift queue still holds checks after {timeout:g} s")
            time.sleep(0.05)
        with self._changed:
            return self.invocations[since:]

    def wait_for(
        self,
        predicate: Callable[[Invocation], bool],
        timeout: float = 30.0,
        *,
        since: int = 0,
    ) -> Invocation:
        """The first invocation (from index ``since``) matching ``predicate``; wait for it.

        Raises
        ------
        TimeoutError
            None came within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for invocation in self.invocations[since:]:
                    if predicate(invocation):
                        return invocation
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no matching invocation within {timeout:g} s")
                self._changed.wait(remaining)

    def wait_for_key(self, key: str, timeout: float = 30.0, *, since: int = 0) -> Invocation:
        """The first invocation (from index ``since``) about spec ``key``."""
        return self.wait_for(lambda inv: key in inv.keys, timeout, since=since)

    # -- the loop -----------------------------------------------------------------------

    def _loop(self) -> None:
        url = self.emulator.delivery_queue_url
        while not self._stop.is_set():
            try:
                messages = self._sqs.receive_message(
                    QueueUrl=url,
                    MaxNumberOfMessages=10,
                    WaitTimeSeconds=POLL_SECONDS,
                    MessageSystemAttributeNames=["ApproximateReceiveCount"],
                    MessageAttributeNames=[_STOP_ATTRIBUTE],
                ).get("Messages", [])
            except Exception as exc:  # noqa: BLE001 - keep polling unless stopping
                if self._stop.is_set():
                    return
                log.warning("polling %s failed: %s", url, exc)
                self._stop.wait(POLL_SECONDS)
                continue
            for message in messages:
                if self._stop.is_set():
                    return
                try:
                    self._deliver(url, message)
                except Exception:  # the message comes back; keep polling
                    if self._stop.is_set():
                        return
                    log.exception("delivering a message failed")

    def _drift_loop(self) -> None:
        """Play the drift queue's event source: batches of checks to ``lambda_handler``."""
        while not self._stop.is_set():
            try:
                messages = self._drift.receive(DRIFT_BATCH_SIZE, wait_seconds=POLL_SECONDS)
            except Exception as exc:  # noqa: BLE001 - keep polling unless stopping
                if self._stop.is_set():
                    return
                log.warning("polling the drift queue failed: %s", exc)
                self._stop.wait(POLL_SECONDS)
                continue
            if not messages:
                continue
            with self._in_drift_batch:
                stops = [m for m in messages if _STOP_ATTRIBUTE in m.get("MessageAttributes", {})]
                checks = [m for m in messages if m not in stops]
                if stops:
                    self._drift.settle(stops, {})
                if checks and not self._stop.is_set():
                    invocation = self.invoke(self._drift.event(checks))
                    # failed checks come back when the function's back-off or the queue's
                    # visibility timeout ends, as with Lambda's event source
                    self._drift.settle(checks, invocation.result, redeliver=False)

    def _deliver(self, url: str, message: Mapping[str, Any]) -> None:
        if _STOP_ATTRIBUTE in message.get("MessageAttributes", {}):
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return
        try:
            event = json.loads(message["Body"])
        except ValueError:
            log.warning("not JSON, dropped: %.200s", message.get("Body"))
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return
        if isinstance(event, dict) and event.get("Event") == "s3:TestEvent":
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            return
        attempt = int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))
        invocation = self.invoke(event, attempt=attempt)
        if not invocation.ok and attempt >= DELIVERY_ATTEMPTS:
            # Lambda's on-failure destination: the record, not the event, goes to the queue
            # (deleting the message below keeps moto's redrive from moving the raw event).
            error_type, _, error_message = (invocation.error or "Error").partition(": ")
            record = world_events.on_failure_record(
                event,
                error=error_type,
                message=error_message,
                attempts=attempt,
                request_id=invocation.request_id,
                region=self.emulator.region,
                account=self.emulator.account_id,
            )
            self._sqs.send_message(
                QueueUrl=self.emulator.failure_queue_url, MessageBody=json.dumps(record)
            )
        if invocation.ok or attempt >= DELIVERY_ATTEMPTS:
            self._sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        # else: the message becomes visible again after RETRY_DELAY_SECONDS (a retry).


# --------------------------------------------------------------------------- helpers


def clusters_of(invocation: Invocation) -> list[str]:
    """Clusters an invocation was about (from its outcomes, else from its keys)."""
    seen = [str(o["cluster"]) for o in invocation.outcomes if o.get("cluster")]
    if seen:
        return seen
    return [c for c in (cluster_from_key(k) for k in invocation.keys) if c]


def route_function_output(stream: Any | None = None, level: int | str = logging.INFO) -> None:
    """Send the function's logs (Powertools JSON) to ``stream``, or nowhere when ``None``.

    In Lambda they go to stdout, which CloudWatch Logs collects, with the metrics (EMF)
    beside them; the local commands print their own report on stdout instead. Metrics are
    turned off (``POWERTOOLS_METRICS_DISABLED``) and the one-off cold-start metric, which
    Powertools prints regardless, is counted as done. Meant for the CLI's own process: it
    changes process-wide state.
    """
    import os

    from aws_lambda_powertools.metrics.provider import cold_start

    from kops_iam.application import handler

    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    cold_start.is_cold_start = False
    log_handler = handler.logger.registered_handler
    if stream is None:
        log_handler.setLevel(logging.CRITICAL + 1)
        return
    if isinstance(log_handler, logging.StreamHandler):
        log_handler.setStream(stream)
    log_handler.setLevel(level)


def placeholder_policy(description: str) -> dict[str, Any]:
    """A harmless managed policy document standing in for one a spec names (with a Sid)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "".join(ch for ch in description.title() if ch.isalnum())[:100] or "Local",
                "Effect": "Allow",
                "Action": "sts:GetCallerIdentity",
                "Resource": "*",
            }
        ],
    }
