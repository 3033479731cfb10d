"""Call counting and fault injection: every request of the function's clients, on one wire.

A :class:`Wire` is hooked into a boto3 session (:meth:`Wire.attach`): every client of that
session (the function's, including the ones ``build_runtime`` makes) sends each request
through it. The wire hands the request to moto itself and records, independently of the
code under test:

* every API call (:class:`CallLog`: per ``service:Operation`` site, in order, reads vs
  writes; one per API call, botocore's retries inside it) and every attempt;
* every IAM write moto really applied (2xx), in the audit format ``operation
  target/detail`` - the truth audit events are checked against - and the cleanups moto
  answered ``NoSuchEntity`` (already gone);
* and it makes the attempts chosen by :class:`Fault` fail instead: throttling or 5xx
  answers in the service's own wire protocol, a ``ConnectTimeoutError`` (never sent), or a
  ``ReadTimeoutError`` after moto applied the request (the response was lost: the
  dangerous kind for writes). A fault picks the n-th call of a site and how many of its
  attempts fail: ``Fault(site, kind)`` is transient (the first attempt of the first call),
  ``Fault.persistent(site, kind)`` fails every attempt of every call.

In-process only (``mock_aws``): a faulted request never reaches moto, because the wire
answers it and points ``request.url`` elsewhere so that moto's own ``before-send`` hook,
which runs after this one, does not apply it as well.
"""

from __future__ import annotations

import contextlib
import fnmatch
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from botocore import xform_name
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ConnectTimeoutError, ReadTimeoutError

READ_PREFIXES = ("Get", "List", "Head", "Describe")
FAULT_KINDS = ("throttle", "server-error", "connect-timeout", "lost-response")
#: Where the wire keeps what it learnt about a call, in the call's request context.
_CONTEXT_KEY = "kops_iam_wire"


def is_read(operation: str) -> bool:
    """Whether an API operation only reads (``Get*``, ``List*``, ``Head*``, ``Describe*``)."""
    return operation.startswith(READ_PREFIXES)


def is_iam_write(service: str, operation: str) -> bool:
    return service == "iam" and not is_read(operation)


def describe_write(operation: str, params: Mapping[str, Any]) -> str:
    """An IAM write in the audit format: ``operation target/detail``."""
    name = xform_name(operation)
    target = params.get("RoleName") or params.get("InstanceProfileName") or ""
    detail = params.get("PolicyName") or params.get("PolicyArn")
    if name in ("add_role_to_instance_profile", "remove_role_from_instance_profile"):
        detail, target = params.get("RoleName"), params.get("InstanceProfileName", "")
    return f"{name} {target}" + (f"/{detail}" if detail else "")


# -- call counting --------------------------------------------------------------------------


@dataclass(frozen=True)
class Calls:
    """API calls per site (``service:Operation``): a snapshot of a :class:`CallLog`."""

    counts: Mapping[str, int] = field(default_factory=dict)

    def __getitem__(self, site: str) -> int:
        return self.counts.get(site, 0)

    def where(self, service: str, read: bool | None = None) -> int:
        """Calls of ``service``: all, reads only (``read=True``) or writes only."""
        return sum(
            n
            for site, n in self.counts.items()
            if site.split(":", 1)[0] == service
            and (read is None or is_read(site.split(":", 1)[1]) == read)
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
        """``Operation n, ...`` sorted by operation (of one service, or ``svc:Op n``)."""
        return ", ".join(
            f"{site.split(':', 1)[1] if service else site} {n}"
            for site, n in sorted(self.counts.items())
            if service is None or site.split(":", 1)[0] == service
        )


class CallLog:
    """Every API call, in order (thread-safe); can be paused and taken (read and cleared)."""

    def __init__(self) -> None:
        self._sites: list[str] = []
        self._lock = threading.Lock()
        self._paused = False

    def record(self, service: str, operation: str) -> None:
        if self._paused:
            return
        with self._lock:
            self._sites.append(f"{service}:{operation}")

    @property
    def sites(self) -> list[str]:
        """Every call so far, ``service:Operation``, in order."""
        with self._lock:
            return list(self._sites)

    def count(self, prefix: str = "") -> int:
        """Calls whose site starts with ``prefix`` (``"iam:"``, ``"s3:HeadObject"``, ...)."""
        return sum(1 for site in self.sites if site.startswith(prefix))

    def by_site(self) -> Counter[str]:
        return Counter(self.sites)

    def reads(self, service: str = "iam") -> list[str]:
        return [s for s in self.sites if s.startswith(f"{service}:") and is_read(s.split(":")[1])]

    def writes(self, service: str = "iam") -> list[str]:
        return [
            s for s in self.sites if s.startswith(f"{service}:") and not is_read(s.split(":")[1])
        ]

    def snapshot(self) -> Calls:
        return Calls(dict(self.by_site()))

    def take(self) -> Calls:
        """The calls since the last ``take``/``clear``; start again."""
        with self._lock:
            sites, self._sites = self._sites, []
        return Calls(dict(Counter(sites)))

    def clear(self) -> None:
        with self._lock:
            self._sites.clear()

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Calls made inside the block are not recorded."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False


# -- faults ---------------------------------------------------------------------------------


@dataclass
class Fault:
    """Fail call site ``site`` (``service:Operation``): its ``nth`` call (1-based; 0 = every
    call) on ``attempts`` consecutive attempts (0 = every attempt), with ``kind``
    (:data:`FAULT_KINDS`); ``status``/``code`` replace the kind's usual error answer."""

    site: str
    kind: str = "throttle"
    nth: int = 1
    attempts: int = 1
    status: int | None = None
    code: str | None = None
    injected: int = 0
    _calls: int = 0
    _failed_attempts: int = 0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {FAULT_KINDS}, not {self.kind!r}")

    @classmethod
    def persistent(cls, site: str, kind: str = "server-error", **answer: Any) -> Fault:
        """Every attempt of every call of ``site`` fails."""
        return cls(site, kind, nth=0, attempts=0, **answer)

    @property
    def is_persistent(self) -> bool:
        return self.nth == 0 and self.attempts == 0

    def matches(self, site: str) -> bool:
        """Whether this fault applies to ``site`` (``service:Operation``; ``fnmatch``
        patterns such as ``iam:*`` apply to every call they match)."""
        return self.site == site or (
            any(c in self.site for c in "*?[") and fnmatch.fnmatchcase(site, self.site)
        )

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


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body

    def read(self, *_: Any) -> bytes:
        body, self._body = self._body, b""
        return body


def error_response(
    protocol: str,
    kind: str,
    url: str = "https://fault-injected.invalid/",
    *,
    status: int | None = None,
    code: str | None = None,
) -> AWSResponse:
    """An error answer in the service's own wire protocol (``query``: IAM; ``json``:
    EventBridge, KMS, SQS; ``rest-xml``: S3): throttling or a 5xx, or ``status``/``code``."""
    default_status, default_code = (
        (400, "Throttling") if kind == "throttle" else (503, "ServiceUnavailable")
    )
    headers: dict[str, str] = {}
    if protocol in ("json", "rest-json"):
        if kind == "throttle":
            default_code = "ThrottlingException"
        error = code or default_code
        body = json.dumps({"__type": error, "message": "injected"}).encode()
        headers = {"x-amzn-errortype": error, "content-type": "application/x-amz-json-1.1"}
    elif protocol == "rest-xml":
        if kind == "throttle":
            default_status, default_code = 503, "SlowDown"
        error = code or default_code
        body = (
            f"<?xml version='1.0' encoding='UTF-8'?><Error><Code>{error}</Code>"
            "<Message>injected</Message><RequestId>injected</RequestId></Error>"
        ).encode()
    else:  # query
        error = code or default_code
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{error}</Code>"
            f"<Message>injected</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
        ).encode()
    return AWSResponse(url, status or default_status, headers, _Raw(body))


# -- the wire -------------------------------------------------------------------------------


@dataclass
class _Call:
    service: str
    operation: str
    protocol: str
    params: dict[str, Any]


@dataclass
class Wire:
    """Every request of the attached clients: moto answers, faults intervene, all recorded."""

    calls: CallLog = field(default_factory=CallLog)
    attempts: Counter[str] = field(default_factory=Counter)
    #: Faults injected, per ``site:kind``.
    injected: Counter[str] = field(default_factory=Counter)
    #: IAM writes moto applied (2xx), in order, with the calling thread's name.
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

    # -- set-up ---------------------------------------------------------------------------

    def fail(self, site: str, kind: str = "throttle", **options: Any) -> Fault:
        """Add a :class:`Fault` (options as its fields); return it."""
        fault = Fault(site, kind, **options)
        self.faults.append(fault)
        return fault

    @contextlib.contextmanager
    def faulted(self, *faults: Fault) -> Iterator[None]:
        """The faults are in place inside the block only."""
        self.faults = list(faults)
        try:
            yield
        finally:
            self.faults = []

    # -- the hooks ------------------------------------------------------------------------

    def before_call(self, model: Any, params: dict[str, Any], context: dict[str, Any]) -> None:
        service_model = model.service_model
        service, operation = service_model.service_name, model.name
        context[_CONTEXT_KEY] = _Call(service, operation, service_model.protocol, dict(params))
        site = f"{service}:{operation}"
        if self.checkpoint is not None:
            self.checkpoint(site)
        if self.observer is not None:
            try:
                self.observer(service, operation, dict(params))
            except Exception as exc:  # never into the code under test: reported by the test
                self.observer_errors.append(f"{site}: {exc!r}")
        self.calls.record(service, operation)
        with self._lock:
            for fault in self.faults:
                if fault.matches(site):
                    fault.on_call()

    def send(self, request: Any, event_name: str) -> AWSResponse:
        from moto.core.models import botocore_stubber

        call: _Call = request.context[_CONTEXT_KEY]
        site = f"{call.service}:{call.operation}"
        with self._lock:
            self.attempts[site] += 1
            fault = next((f for f in self.faults if f.matches(site) and f.should_fail()), None)
            if fault is not None:
                self.injected[f"{site}:{fault.kind}"] += 1
        if fault is not None and fault.kind in ("throttle", "server-error"):
            answer = error_response(
                call.protocol, fault.kind, request.url, status=fault.status, code=fault.code
            )
            return self._detach(request, answer)
        if fault is not None and fault.kind == "connect-timeout":
            self._detach(request, None)
            raise ConnectTimeoutError(endpoint_url=request.url)
        response = botocore_stubber(event_name, request)
        if response is None:
            raise AssertionError(f"moto did not answer {site}")
        if is_iam_write(call.service, call.operation):
            written = (threading.current_thread().name, describe_write(call.operation, call.params))
            if response.status_code < 300:
                with self._lock:
                    self.applied.append(written)
            elif call.operation.startswith(("Delete", "Detach", "Remove")) and b"NoSuchEntity" in (
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
        # moto's own before-send hook runs after this one: point it elsewhere so that the
        # request is not processed a second time.
        request.url = "https://answered-by-the-wire.invalid/"
        return response  # type: ignore[return-value]

    # -- reading --------------------------------------------------------------------------

    def applied_writes(self, thread: str | None = None) -> list[str]:
        with self._lock:
            return [w for t, w in self.applied if thread is None or t == thread]

    def gone_writes(self, thread: str | None = None) -> list[str]:
        with self._lock:
            return [w for t, w in self.gone if thread is None or t == thread]

    def reset_counts(self) -> None:
        self.calls.clear()
        with self._lock:
            self.attempts.clear()
            self.applied.clear()
            self.gone.clear()


def attach(session: Any, current: Callable[[], Wire]) -> None:
    """Send every request of ``session``'s clients through ``current()``'s wire.

    Register before making any client (a client copies its session's hooks when made).
    The hooks run before moto's own (``register_first``).
    """
    session.events.register_first(
        "before-parameter-build",
        lambda model, params, context, **_: current().before_call(model, params, context),
    )
    session.events.register_first(
        "before-send", lambda request, event_name, **_: current().send(request, event_name)
    )
