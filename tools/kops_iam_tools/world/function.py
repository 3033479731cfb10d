"""The function as Lambda runs it: its configuration, environment, session and context.

:class:`FunctionConfig` is what the operator configures on the function (the stack's
context options); :func:`function_environment` turns it into the environment the stack
sets, plus what the Lambda runtime provides (region, credentials) and ``AWS_ENDPOINT_URL``
when the world is served over HTTP. :class:`LambdaContext` is the context object Lambda
hands the handler.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal

from kops_iam.application.settings import Defaults, Env
from kops_iam_tools.world.names import ACCOUNT, DUMMY_CREDENTIALS, REGION

if TYPE_CHECKING:  # pragma: no cover - typing only
    import boto3

LOOPBACK: Final = "127.0.0.1"
#: Memory the Lambda context reports (the stack's function size).
MEMORY_MB: Final = 512
#: Time an invocation may take, as the stack's function timeout allows.
TIMEOUT_MS: Final = 300_000


@dataclass(frozen=True)
class FunctionConfig:
    """What the operator configures on the function (the stack's context options).

    Each field becomes the environment variable the stack sets (:func:`function_environment`).
    """

    mode: Literal["apply", "plan"] = "apply"
    permissions_boundary: str | None = None
    allowed_actions: tuple[str, ...] = ()
    allowed_managed_policies: tuple[str, ...] = ()
    adopt_existing_roles: bool = False
    retain_on_delete: bool = False
    manage_root_path_roles: bool = False
    drift_read: Literal["bulk", "per-role"] = "bulk"
    event_read: Literal["bulk", "per-role"] = "bulk"


def function_environment(
    config: FunctionConfig,
    *,
    bucket: str = Defaults.SPECS_BUCKET,
    bus_name: str = Defaults.AUDIT_BUS_NAME,
    drift_queue_url: str = "",
    snapshot_bucket: str = Defaults.SNAPSHOT_BUCKET,
    endpoint_url: str = "",
    region: str = REGION,
) -> dict[str, str]:
    """The function's environment: the stack's variables, plus the emulator's endpoint.

    The first part mirrors what ``infra/`` sets on the Lambda function (names from
    :class:`~kops_iam.application.settings.Env`; refusals name the CLI's flags); the second
    is what the Lambda runtime would provide (region, credentials), with
    ``AWS_ENDPOINT_URL`` sending every client to ``endpoint_url`` (served over HTTP; left
    out in-process, where moto intercepts the calls).
    """
    environment = {
        Env.SPECS_BUCKET: bucket,
        Env.AUDIT_BUS_NAME: bus_name,
        Env.MODE: config.mode,
        Env.PERMISSIONS_BOUNDARY: config.permissions_boundary or "",
        Env.ALLOWED_ACTIONS: ",".join(config.allowed_actions),
        Env.ALLOWED_MANAGED_POLICIES: ",".join(config.allowed_managed_policies),
        Env.ADOPT_EXISTING_ROLES: "true" if config.adopt_existing_roles else "false",
        Env.RETAIN_ON_DELETE: "true" if config.retain_on_delete else "false",
        Env.MANAGE_ROOT_PATH_ROLES: "true" if config.manage_root_path_roles else "false",
        Env.AUDIENCE: "cli",  # refusals name kops-iam local's flags, not context keys
        Env.DRIFT_READ: config.drift_read,
        Env.EVENT_READ: config.event_read,
        Env.DRIFT_QUEUE_URL: drift_queue_url,
        Env.SNAPSHOT_BUCKET: snapshot_bucket,
        Env.DRIFT_MAX_RECEIVES: str(Defaults.DRIFT_MAX_RECEIVES),
        "POWERTOOLS_SERVICE_NAME": Defaults.POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": Defaults.METRICS_NAMESPACE,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        **DUMMY_CREDENTIALS,
    }
    if endpoint_url:
        environment["AWS_ENDPOINT_URL"] = endpoint_url
    return environment


def session_from_environment(environ: Mapping[str, str]) -> boto3.session.Session:
    """A boto3 session configured from ``environ`` alone (region, credentials, endpoint).

    boto3 reads ``AWS_ENDPOINT_URL`` from the process environment only; this session
    applies the one in ``environ`` to every client it makes, so the emulator never has to
    change the process environment (tests in the same process keep theirs).
    """
    import boto3
    from botocore.config import Config

    endpoint = environ.get("AWS_ENDPOINT_URL") or None
    region = environ.get("AWS_REGION") or environ.get("AWS_DEFAULT_REGION") or REGION
    # A loopback endpoint is never reached through HTTP(S)_PROXY (botocore would use one).
    direct = Config(proxies={}) if endpoint and f"//{LOOPBACK}:" in endpoint else None

    class EndpointSession(boto3.session.Session):
        def client(self, *args: Any, **kwargs: Any) -> Any:
            if kwargs.get("endpoint_url") is None:
                kwargs["endpoint_url"] = endpoint
            if direct is not None and kwargs["endpoint_url"] == endpoint:
                given = kwargs.get("config")
                kwargs["config"] = given.merge(direct) if given is not None else direct
            return super().client(*args, **kwargs)

    return EndpointSession(
        aws_access_key_id=environ.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=environ.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=environ.get("AWS_SESSION_TOKEN"),
        region_name=region,
    )


@dataclass
class LambdaContext:
    """The parts of a Lambda context the handler and Powertools read."""

    invoked_function_arn: str = field(default_factory=lambda: function_arn(REGION, ACCOUNT))
    function_name: str = Defaults.FUNCTION_NAME
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = MEMORY_MB
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = f"/aws/lambda/{Defaults.FUNCTION_NAME}"
    log_stream_name: str = "local"
    timeout_ms: int = TIMEOUT_MS
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds left before the (emulated) function times out."""
        return max(0, self.timeout_ms - int((time.monotonic() - self._started) * 1000))


def function_arn(region: str, account_id: str) -> str:
    """ARN of the function (the Lambda context reports it)."""
    return f"arn:aws:lambda:{region}:{account_id}:function:{Defaults.FUNCTION_NAME}"
