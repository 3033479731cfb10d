"""Deployment settings of the reconciler: what the operator decides, read once per container.

The Lambda reads them from its environment (names in :class:`Env`); the CLI and the local
emulator build them directly. Import-light on purpose: the handler imports this module at
cold start, so nothing here pulls in botocore, pydantic or YAML at import time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final, Literal

from kops_iam.domain.naming import MANAGED_PATH
from kops_iam.domain.options import Options

if TYPE_CHECKING:  # pragma: no cover - typing only
    from botocore.config import Config


class Env:
    """Environment variables through which the stack configures the function."""

    SPECS_BUCKET: Final = "KOPS_IAM_SPECS_BUCKET"
    AUDIT_BUS_NAME: Final = "KOPS_IAM_AUDIT_BUS_NAME"
    MODE: Final = "KOPS_IAM_MODE"  # "apply" | "plan"
    PERMISSIONS_BOUNDARY: Final = "KOPS_IAM_PERMISSIONS_BOUNDARY"  # managed policy ARN or ""
    ALLOWED_ACTIONS: Final = "KOPS_IAM_ALLOWED_ACTIONS"  # comma-separated, operator-approved
    ALLOWED_MANAGED_POLICIES: Final = "KOPS_IAM_ALLOWED_MANAGED_POLICIES"  # comma-separated ARNs
    ADOPT_EXISTING_ROLES: Final = "KOPS_IAM_ADOPT_EXISTING_ROLES"  # "true" | "false"
    RETAIN_ON_DELETE: Final = "KOPS_IAM_RETAIN_ON_DELETE"  # "true" | "false"
    # kops-iam: keep managing roles it created at IAM path / (docs/adr/0061)
    MANAGE_ROOT_PATH_ROLES: Final = "KOPS_IAM_MANAGE_ROOT_PATH_ROLES"  # "true" | "false"


class Defaults:
    """Default resource names (the stack's when not overridden, and the local emulator's)."""

    SPECS_BUCKET: Final = "kops-iam-specs"
    AUDIT_BUS_NAME: Final = "kops-iam-audit"
    AUDIT_LOG_GROUP: Final = "/kops-iam/audit"
    FAILURE_QUEUE: Final = "kops-iam-failed-events"
    AUDIT_TAIL_QUEUE: Final = "kops-iam-audit-tail"  # local emulator: where the tools read audit
    FUNCTION_NAME: Final = "kops-iam-reconciler"
    POWERTOOLS_SERVICE_NAME: Final = "kops-iam"
    METRICS_NAMESPACE: Final = "KopsIam"


Mode = Literal["apply", "plan"]
RetryMode = Literal["standard", "adaptive", "legacy"]

#: A spec bigger than this is refused from its HEAD, before any byte is downloaded.
MAX_SPEC_BYTES: Final = 1024 * 1024

_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"", "0", "false", "no", "off"})


class SettingsError(ValueError):
    """A deployment setting has a value the function cannot run with."""


@dataclass(frozen=True)
class Settings:
    """Everything the operator decides about a reconciler.

    Parameters
    ----------
    bucket
        Specs bucket (the kops state store, or a bucket holding ``<cluster>/config`` keys).
    bus_name
        EventBridge bus that receives the audit events.
    mode
        ``"apply"`` writes IAM; ``"plan"`` computes and audits the diff and writes nothing.
    options
        What a spec may ask for (operator boundary, approved escalation actions, ...).
    adopt_existing_roles
        Take over a role of the right name that kops-iam did not create (it gets the
        ownership tag). Off by default: such a role is a rejection.
    retain_on_delete
        Keep a cluster's roles when its spec object is deleted.
    max_object_bytes
        Largest spec object read; bigger ones are rejected from their HEAD.
    max_passes
        Read-apply-verify passes per object before giving up (the invocation then fails and
        Lambda retries it).
    role_path
        IAM path of the roles and instance profiles kops-iam creates (the function's own
        policy names this path: docs/adr/0061).
    manage_root_path_roles
        Keep managing roles and instance profiles kops-iam created at path ``/`` before it
        created them under ``role_path``. Off: such a role is a rejection that says so.
    audit_attempts
        Attempts to put one audit event before logging it as lost.
    audit_unchanged_on_schedule
        Publish ``Spec Unchanged`` for every cluster a scheduled run finds in order
        (off: scheduled runs only report drift, rejections and failures).
    scan_workers
        Clusters reconciled in parallel by a scheduled run.
    scan_time_margin_seconds
        A scheduled run stops starting new clusters when less than this remains.
    retry_mode, max_attempts, connect_timeout, read_timeout
        botocore client configuration (transient errors are retried by botocore).
    """

    bucket: str = Defaults.SPECS_BUCKET
    bus_name: str = Defaults.AUDIT_BUS_NAME
    mode: Mode = "apply"
    options: Options = field(default_factory=Options)
    adopt_existing_roles: bool = False
    retain_on_delete: bool = False
    max_object_bytes: int = MAX_SPEC_BYTES
    max_passes: int = 5
    role_path: str = MANAGED_PATH
    manage_root_path_roles: bool = False
    audit_attempts: int = 4
    audit_unchanged_on_schedule: bool = False
    scan_workers: int = 4
    scan_time_margin_seconds: float = 30.0
    retry_mode: RetryMode = "standard"
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.mode not in ("apply", "plan"):
            raise SettingsError(f"{Env.MODE}: must be 'apply' or 'plan', not {self.mode!r}")
        if self.retry_mode not in ("standard", "adaptive", "legacy"):
            raise SettingsError(
                f"retry mode must be standard, adaptive or legacy: {self.retry_mode!r}"
            )
        for name in ("max_object_bytes", "max_passes", "audit_attempts", "scan_workers"):
            if getattr(self, name) < 1:
                raise SettingsError(f"{name} must be at least 1")
        if self.max_attempts < 1:
            raise SettingsError("AWS_MAX_ATTEMPTS must be at least 1")

    @property
    def dry_run(self) -> bool:
        """``True`` in plan mode: compute and report, write nothing."""
        return self.mode == "plan"

    def with_account(self, account_id: str | None) -> Settings:
        """Return a copy whose options know the AWS account (for bare KMS key ids)."""
        if not account_id or self.options.account_id == account_id:
            return self
        return replace(self, options=replace(self.options, account_id=account_id))

    def boto_config(self) -> Config:
        """botocore client configuration: retries and timeouts from these settings."""
        from botocore.config import Config

        return Config(
            retries={"mode": self.retry_mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            tcp_keepalive=True,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, account_id: str | None = None) -> Settings:
        """Build settings from environment variables (:class:`kops_iam.application.settings.Env`).

        ``AWS_RETRY_MODE`` and ``AWS_MAX_ATTEMPTS``, botocore's own variables, tune retries.

        Raises
        ------
        SettingsError
            A variable holds a value that cannot be used (fail at cold start, loudly).
        """
        mode = environ.get(Env.MODE, "apply").strip().lower() or "apply"
        boundary = environ.get(Env.PERMISSIONS_BOUNDARY, "").strip() or None
        managed = _csv(environ.get(Env.ALLOWED_MANAGED_POLICIES, ""))
        options = Options(
            account_id=account_id,
            allowed_actions=frozenset(_csv(environ.get(Env.ALLOWED_ACTIONS, ""))),
            permissions_boundary=boundary,
            allowed_managed_policies=frozenset(managed) if managed else frozenset(),
        )
        try:
            max_attempts = int(environ.get("AWS_MAX_ATTEMPTS", "5"))
        except ValueError as exc:
            raise SettingsError(f"AWS_MAX_ATTEMPTS: not an integer: {exc}") from exc
        return cls(
            bucket=environ.get(Env.SPECS_BUCKET, "").strip() or Defaults.SPECS_BUCKET,
            bus_name=environ.get(Env.AUDIT_BUS_NAME, "").strip() or Defaults.AUDIT_BUS_NAME,
            mode=mode,  # type: ignore[arg-type]  # checked in __post_init__
            options=options,
            adopt_existing_roles=_flag(environ, Env.ADOPT_EXISTING_ROLES),
            retain_on_delete=_flag(environ, Env.RETAIN_ON_DELETE),
            manage_root_path_roles=_flag(environ, Env.MANAGE_ROOT_PATH_ROLES),
            retry_mode=environ.get("AWS_RETRY_MODE", "standard").strip() or "standard",  # type: ignore[arg-type]
            max_attempts=max_attempts,
        )


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}: expected true or false, not {value!r}")
