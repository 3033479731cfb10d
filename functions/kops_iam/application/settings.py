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
from kops_iam.domain.options import Approval, Options

if TYPE_CHECKING:  # pragma: no cover - typing only
    from botocore.config import Config


SettingScope = Literal["function", "stack"]


@dataclass(frozen=True)
class Setting:
    """One operator setting, under every name it has.

    This table (:data:`SETTINGS`) is the single source of those names and of each
    setting's default and meaning: the stack's context model (``infra/config.py``), the
    function's environment (``infra/reconciler.py``, :meth:`Settings.from_env`), the CLI's
    flags and the docs' settings table are all built from it, and tests hold them to it.

    Parameters
    ----------
    name
        Attribute name (``StackConfig``'s field; :class:`Settings` where ``function``).
    context_key
        The CDK context key an operator sets (``None``: not a stack setting).
    env
        The function's environment variable (``None``: the stack alone uses it).
    flag
        The ``kops-iam`` CLI flag (``None``: not a CLI option).
    default
        The default as the docs show it.
    description
        One sentence for the docs and ``--help``.
    """

    name: str
    context_key: str | None
    env: str | None
    flag: str | None
    default: str
    description: str

    @property
    def scope(self) -> SettingScope:
        """``function``: the function reads it; ``stack``: only the stack does."""
        return "function" if self.env else "stack"


#: Every setting, in the order the docs list them.
SETTINGS: Final[tuple[Setting, ...]] = (
    Setting(
        "existing_bucket_name",
        "kops-iam:existingBucketName",
        None,
        None,
        "none: the stack creates a bucket",
        "Use this existing bucket (a kops state store) instead; the stack never modifies it "
        "(enable its EventBridge notifications yourself, same region).",
    ),
    Setting(
        "existing_bucket_key_arn",
        "kops-iam:existingBucketKmsKeyArn",
        None,
        None,
        "none",
        "KMS key of an existing SSE-KMS bucket; the function may decrypt with it only through S3.",
    ),
    Setting(
        "specs_bucket",
        None,
        "KOPS_IAM_SPECS_BUCKET",
        None,
        "kops-iam-specs",
        "Bucket holding the `<cluster>/config` specs (the stack sets it: its own bucket or "
        "`kops-iam:existingBucketName`).",
    ),
    Setting(
        "permissions_boundary_arn",
        "kops-iam:permissionsBoundaryArn",
        "KOPS_IAM_PERMISSIONS_BOUNDARY",
        "--permissions-boundary",
        "none: no boundary enforced",
        "Managed policy set as every kops role's boundary; the function can then create "
        "roles only with it and never remove it. **Recommended.**",
    ),
    Setting(
        "allowed_actions",
        "kops-iam:allowedActions",
        "KOPS_IAM_ALLOWED_ACTIONS",
        "--allow-action",
        "none",
        "Privilege-escalation actions (or patterns) `additionalPolicies` may grant anyway, "
        "e.g. `iam:PassRole`.",
    ),
    Setting(
        "unknown_actions",
        "kops-iam:unknownActions",
        "KOPS_IAM_UNKNOWN_ACTIONS",
        "--unknown-actions",
        "warn",
        "How `additionalPolicies` actions missing from kops-iam's IAM action catalogue are "
        "treated: `warn` accepts them with a warning (one edit from a catalogued action or "
        "service is refused as a misspelling), `error` refuses them all.",
    ),
    Setting(
        "known_actions",
        "kops-iam:knownActions",
        "KOPS_IAM_KNOWN_ACTIONS",
        "--known-action",
        "none",
        "Actions newer than kops-iam's IAM action catalogue to accept as known (exact "
        "`service:Action` names), e.g. one refused as a look-alike of a catalogued action.",
    ),
    Setting(
        "allowed_managed_policy_arns",
        "kops-iam:allowedManagedPolicyArns",
        "KOPS_IAM_ALLOWED_MANAGED_POLICIES",
        "--allow-managed-policy",
        "none: nothing can be attached",
        "Managed policy ARNs `externalPolicies` may attach (exact ARNs, no wildcards).",
    ),
    Setting(
        "mode",
        "kops-iam:mode",
        "KOPS_IAM_MODE",
        None,
        "apply",
        "`apply` writes IAM; `plan` only computes and audits the changes (`Spec Planned`).",
    ),
    Setting(
        "adopt_existing_roles",
        "kops-iam:adoptExistingRoles",
        "KOPS_IAM_ADOPT_EXISTING_ROLES",
        "--adopt-existing-roles",
        "false",
        "Take over kops-named roles kops-iam did not create (drops the ownership-tag "
        "conditions from the function's policy).",
    ),
    Setting(
        "retain_on_delete",
        "kops-iam:retainOnDelete",
        "KOPS_IAM_RETAIN_ON_DELETE",
        None,
        "false",
        "Keep a cluster's roles when its spec is deleted.",
    ),
    Setting(
        "manage_root_path_roles",
        "kops-iam:manageRootPathRoles",
        "KOPS_IAM_MANAGE_ROOT_PATH_ROLES",
        "--manage-root-path-roles",
        "false",
        "Keep managing the roles kops-iam created at IAM path `/` before it created them "
        "under `/kops-iam/` (grants the function writes on owned kops roles at `/`); off, "
        "such roles are `Spec Rejected` (reason `root-path`) and left as they are "
        "(docs/adr/0061).",
    ),
    Setting(
        "drift_schedule",
        "kops-iam:driftSchedule",
        None,
        None,
        "rate(1 hour)",
        "How often every cluster is checked for drift: `rate(<n> minutes)` (or hours, days), "
        "at least 5 minutes. Each run puts one message per cluster on the drift queue.",
    ),
    Setting(
        "drift_concurrency",
        "kops-iam:driftConcurrency",
        None,
        None,
        "5",
        "The drift checks' share of the account's IAM request rate: at most this many "
        "workers drain the drift queue at once (its event source's maximum concurrency, "
        "2-1000, below `kops-iam:reservedConcurrency` when that is set), each checking 4 "
        "clusters at a time.",
    ),
    Setting(
        "drift_read",
        "kops-iam:driftRead",
        "KOPS_IAM_DRIFT_READ",
        None,
        "bulk",
        "How drift workers read IAM: `bulk` reads every role of the account with "
        "`GetAccountAuthorizationDetails` once per run, in the schedule's invocation, and shares "
        "it with the workers (docs/adr/0117; read-only metadata, "
        "account-wide: AWS cannot scope it, docs/adr/0111); `per-role` reads only each "
        "cluster's roles, about 6 calls per role.",
    ),
    Setting(
        "event_read",
        "kops-iam:eventRead",
        "KOPS_IAM_EVENT_READ",
        None,
        "bulk",
        "How a reconcile triggered by a spec change (not by a drift check) reads IAM: `bulk` "
        "asks `GetAccountAuthorizationDetails` for one page and uses it when it holds every "
        "role of the account (up to 1,000 roles, IAM's default quota): 1 call for the whole "
        "cluster, the same account-wide read as `kops-iam:driftRead=bulk`; a larger account "
        "is read role by role (docs/adr/0121). `per-role` always reads each role: 5 calls per "
        "role, 6 with `additionalPolicies`.",
    ),
    Setting(
        "drift_queue_url",
        None,
        "KOPS_IAM_DRIFT_QUEUE_URL",
        None,
        "none: set by the stack",
        "The drift queue the schedule fills and the function drains (the stack sets it).",
    ),
    Setting(
        "snapshot_bucket",
        None,
        "KOPS_IAM_SNAPSHOT_BUCKET",
        None,
        "none: set by the stack",
        "The bucket where the schedule's invocation leaves the period's IAM snapshot for the "
        "drift workers (one object only the function may read or write; the stack makes it). "
        "Unset: each worker reads IAM in bulk itself (docs/adr/0117).",
    ),
    Setting(
        "drift_max_receives",
        None,
        "KOPS_IAM_DRIFT_MAX_RECEIVES",
        None,
        "6",
        "Deliveries of one drift check before the queue moves it to its dead-letter queue "
        "(the stack sets it from the redrive policy); a check still failing on the last one "
        "is reported on the audit trail.",
    ),
    Setting(
        "audit_bus_name",
        "kops-iam:auditBusName",
        "KOPS_IAM_AUDIT_BUS_NAME",
        None,
        "kops-iam-audit",
        "Name of the custom EventBridge bus for audit events.",
    ),
    Setting(
        "audit_archive_retention_days",
        "kops-iam:auditArchiveRetentionDays",
        None,
        None,
        "365",
        "Days the audit archive keeps events (`0` = forever).",
    ),
    Setting(
        "audit_log_retention_days",
        "kops-iam:auditLogRetentionDays",
        None,
        None,
        "365",
        "Retention of the audit log group `/kops-iam/audit` (a CloudWatch Logs retention period).",
    ),
    Setting(
        "log_retention_days",
        "kops-iam:logRetentionDays",
        None,
        None,
        "30",
        "Retention of the function's own log group.",
    ),
    Setting(
        "noncurrent_version_expiration_days",
        "kops-iam:noncurrentVersionExpirationDays",
        None,
        None,
        "90",
        "Days old spec versions stay in the bucket the stack creates.",
    ),
    Setting(
        "reserved_concurrency",
        "kops-iam:reservedConcurrency",
        None,
        None,
        "none: the account's shared pool",
        "Concurrent runs reserved for the function, and its cap (1-1000): bounds IAM write "
        "bursts; the account must keep 100 unreserved, so new low-quota accounts leave it "
        "unset (docs/adr/0073).",
    ),
    Setting(
        "alarm_email",
        "kops-iam:alarmEmail",
        None,
        None,
        "none: subscribe to the topic yourself",
        "Email address subscribed to the alarm topic.",
    ),
    Setting(
        "audience",
        None,
        "KOPS_IAM_AUDIENCE",
        None,
        "stack",
        "Who reads refusals: `stack` (they name CDK context keys) or `cli` (they name CLI "
        "flags; set by `kops-iam local`).",
    ),
)

#: The table by attribute name.
SETTING: Final[dict[str, Setting]] = {setting.name: setting for setting in SETTINGS}


def _env(name: str) -> str:
    env = SETTING[name].env
    assert env is not None, name
    return env


class Env:
    """Environment variables through which the stack configures the function (from the table)."""

    SPECS_BUCKET: Final = _env("specs_bucket")
    AUDIT_BUS_NAME: Final = _env("audit_bus_name")
    MODE: Final = _env("mode")
    PERMISSIONS_BOUNDARY: Final = _env("permissions_boundary_arn")
    ALLOWED_ACTIONS: Final = _env("allowed_actions")
    ALLOWED_MANAGED_POLICIES: Final = _env("allowed_managed_policy_arns")
    UNKNOWN_ACTIONS: Final = _env("unknown_actions")
    KNOWN_ACTIONS: Final = _env("known_actions")
    ADOPT_EXISTING_ROLES: Final = _env("adopt_existing_roles")
    RETAIN_ON_DELETE: Final = _env("retain_on_delete")
    MANAGE_ROOT_PATH_ROLES: Final = _env("manage_root_path_roles")
    AUDIENCE: Final = _env("audience")
    DRIFT_READ: Final = _env("drift_read")
    EVENT_READ: Final = _env("event_read")
    DRIFT_QUEUE_URL: Final = _env("drift_queue_url")
    DRIFT_MAX_RECEIVES: Final = _env("drift_max_receives")
    SNAPSHOT_BUCKET: Final = _env("snapshot_bucket")


Audience = Literal["stack", "cli"]


def approval_for(audience: Audience) -> Approval:
    """How a refusal tells *its* reader to approve: the CLI flag, or the stack's context key."""
    actions, managed = SETTING["allowed_actions"], SETTING["allowed_managed_policy_arns"]
    known, unknown = SETTING["known_actions"], SETTING["unknown_actions"]
    root_path = SETTING["manage_root_path_roles"]
    if audience == "cli":
        return Approval(
            action=f"{actions.flag} {{action}}",
            managed_policy=f"{managed.flag} {{arn}}",
            known_action=f"{known.flag} {{action}}",
            refuse_unknown=f"{unknown.flag} error",
            manage_root_path=str(root_path.flag),
        )
    return Approval(
        action=f"the CDK context key {actions.context_key} (e.g. -c {actions.context_key}="
        "{action})",
        managed_policy=f"the CDK context key {managed.context_key} (add {{arn}})",
        known_action=f"the CDK context key {known.context_key} (add {{action}})",
        refuse_unknown=f"the CDK context key {unknown.context_key}=error",
        manage_root_path=f"the CDK context key {root_path.context_key}=true",
    )


class Defaults:
    """Default resource names (the stack's when not overridden, and the local emulator's)."""

    SPECS_BUCKET: Final = "kops-iam-specs"
    #: The local emulator's snapshot bucket (the stack: a generated name).
    SNAPSHOT_BUCKET: Final = "kops-iam-snapshots"
    AUDIT_BUS_NAME: Final = "kops-iam-audit"
    AUDIT_LOG_GROUP: Final = "/kops-iam/audit"
    FAILURE_QUEUE: Final = "kops-iam-failed-events"  # local emulator (the stack: a generated name)
    DRIFT_QUEUE: Final = "kops-iam-drift-checks"
    DRIFT_DEAD_LETTERS: Final = "kops-iam-drift-checks-failed"
    #: Deliveries of a drift check before the drift queue gives up on it (redrive policy).
    DRIFT_MAX_RECEIVES: Final = 6
    #: Drift checks one invocation receives at most (the event source mapping's batch size).
    DRIFT_BATCH_SIZE: Final = 50
    AUDIT_TAIL_QUEUE: Final = "kops-iam-audit-tail"  # local emulator: where the tools read audit
    FUNCTION_NAME: Final = "kops-iam-reconciler"
    POWERTOOLS_SERVICE_NAME: Final = "kops-iam"
    METRICS_NAMESPACE: Final = "KopsIam"


Mode = Literal["apply", "plan"]
RetryMode = Literal["standard", "adaptive", "legacy"]
#: How IAM is read: in bulk (``GetAccountAuthorizationDetails``) or role by role.
IamRead = Literal["bulk", "per-role"]
DriftRead = IamRead
IAM_READS: Final[tuple[IamRead, ...]] = ("bulk", "per-role")
DRIFT_READS: Final = IAM_READS

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
        Publish ``Spec Unchanged`` for every cluster a drift check finds in order
        (off: drift checks only report drift, rejections and failures).
    drift_queue_url
        The drift queue (the schedule puts one message per cluster there).
    drift_read
        ``bulk``: drift workers compare specs with one ``GetAccountAuthorizationDetails``
        snapshot per run (the schedule's, shared; else one per worker); ``per-role``: with
        each cluster's own roles.
    event_read
        ``bulk``: a reconcile not triggered by a drift check reads IAM with one
        ``GetAccountAuthorizationDetails`` page when that page holds the whole account, else
        role by role; ``per-role``: always role by role (docs/adr/0121).
    drift_max_receives
        Deliveries of a drift check before it goes to the dead-letter queue.
    drift_threads
        Clusters of one drift batch checked in parallel (and SQS batches sent in parallel
        by the schedule's run).
    drift_time_margin_seconds
        A drift worker starts no new check when less than this remains of its invocation;
        the rest go back to the queue.
    snapshot_bucket
        Where the schedule's invocation leaves the period's IAM snapshot for the workers
        (``None``: each worker reads IAM in bulk itself).
    snapshot_max_age_seconds
        A worker reuses its IAM snapshot for checks of runs that started before it was
        taken, for at most this long.
    retry_mode, max_attempts, connect_timeout, read_timeout
        botocore client configuration (transient errors are retried by botocore).
    iam_retry_mode
        botocore retry mode of the IAM client: ``adaptive`` (client-side rate limiting
        once IAM answers ``Throttling``: docs/adr/0112).
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
    drift_queue_url: str | None = None
    drift_read: DriftRead = "bulk"
    event_read: IamRead = "bulk"
    drift_max_receives: int = Defaults.DRIFT_MAX_RECEIVES
    drift_threads: int = 4
    drift_time_margin_seconds: float = 30.0
    snapshot_max_age_seconds: float = 900.0
    snapshot_bucket: str | None = None
    retry_mode: RetryMode = "standard"
    iam_retry_mode: RetryMode = "adaptive"
    max_attempts: int = 5
    connect_timeout: float = 5.0
    read_timeout: float = 20.0

    def __post_init__(self) -> None:
        if self.mode not in ("apply", "plan"):
            raise SettingsError(f"{Env.MODE}: must be 'apply' or 'plan', not {self.mode!r}")
        for mode in (self.retry_mode, self.iam_retry_mode):
            if mode not in ("standard", "adaptive", "legacy"):
                raise SettingsError(f"retry mode must be standard, adaptive or legacy: {mode!r}")
        for env, read in ((Env.DRIFT_READ, self.drift_read), (Env.EVENT_READ, self.event_read)):
            if read not in IAM_READS:
                raise SettingsError(f"{env}: must be 'bulk' or 'per-role', not {read!r}")
        for name in (
            "max_object_bytes",
            "max_passes",
            "audit_attempts",
            "drift_threads",
            "drift_max_receives",
        ):
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

    def boto_config(self, service: str | None = None) -> Config:
        """botocore client configuration of ``service``: retries and timeouts from these
        settings (the IAM client's retry mode is :attr:`iam_retry_mode`)."""
        from botocore.config import Config

        mode = self.iam_retry_mode if service == "iam" else self.retry_mode
        return Config(
            retries={"mode": mode, "total_max_attempts": self.max_attempts},
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            tcp_keepalive=True,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, account_id: str | None = None) -> Settings:
        """Build settings from environment variables (:class:`Env`, from :data:`SETTINGS`).

        ``AWS_RETRY_MODE`` and ``AWS_MAX_ATTEMPTS``, botocore's own variables, tune retries.

        Raises
        ------
        SettingsError
            A variable holds a value that cannot be used (fail at cold start, loudly).
        """
        mode = environ.get(Env.MODE, "apply").strip().lower() or "apply"
        boundary = environ.get(Env.PERMISSIONS_BOUNDARY, "").strip() or None
        managed = _csv(environ.get(Env.ALLOWED_MANAGED_POLICIES, ""))
        audience = environ.get(Env.AUDIENCE, "stack").strip().lower() or "stack"
        if audience not in ("stack", "cli"):
            raise SettingsError(f"{Env.AUDIENCE}: must be 'stack' or 'cli', not {audience!r}")
        unknown = environ.get(Env.UNKNOWN_ACTIONS, "warn").strip().lower() or "warn"
        if unknown not in ("warn", "error"):
            raise SettingsError(
                f"{Env.UNKNOWN_ACTIONS}: must be 'warn' or 'error', not {unknown!r}"
            )
        options = Options(
            account_id=account_id,
            allowed_actions=frozenset(_csv(environ.get(Env.ALLOWED_ACTIONS, ""))),
            permissions_boundary=boundary,
            allowed_managed_policies=frozenset(managed) if managed else frozenset(),
            approval=approval_for(audience),  # type: ignore[arg-type]  # checked above
            unknown_actions=unknown,  # type: ignore[arg-type]  # checked above
            known_actions=frozenset(_csv(environ.get(Env.KNOWN_ACTIONS, ""))),
        )
        max_attempts = _integer(environ, "AWS_MAX_ATTEMPTS", 5)
        drift_read = environ.get(Env.DRIFT_READ, "bulk").strip().lower() or "bulk"
        event_read = environ.get(Env.EVENT_READ, "bulk").strip().lower() or "bulk"
        return cls(
            bucket=environ.get(Env.SPECS_BUCKET, "").strip() or Defaults.SPECS_BUCKET,
            bus_name=environ.get(Env.AUDIT_BUS_NAME, "").strip() or Defaults.AUDIT_BUS_NAME,
            mode=mode,  # type: ignore[arg-type]  # checked in __post_init__
            options=options,
            adopt_existing_roles=_flag(environ, Env.ADOPT_EXISTING_ROLES),
            retain_on_delete=_flag(environ, Env.RETAIN_ON_DELETE),
            manage_root_path_roles=_flag(environ, Env.MANAGE_ROOT_PATH_ROLES),
            drift_queue_url=environ.get(Env.DRIFT_QUEUE_URL, "").strip() or None,
            drift_read=drift_read,  # type: ignore[arg-type]  # checked in __post_init__
            event_read=event_read,  # type: ignore[arg-type]  # checked in __post_init__
            drift_max_receives=_integer(
                environ, Env.DRIFT_MAX_RECEIVES, Defaults.DRIFT_MAX_RECEIVES
            ),
            snapshot_bucket=environ.get(Env.SNAPSHOT_BUCKET, "").strip() or None,
            retry_mode=environ.get("AWS_RETRY_MODE", "standard").strip() or "standard",  # type: ignore[arg-type]
            max_attempts=max_attempts,
        )


def _integer(environ: Mapping[str, str], name: str, default: int) -> int:
    try:
        return int(environ.get(name, "").strip() or default)
    except ValueError as exc:
        raise SettingsError(f"{name}: not an integer: {exc}") from exc


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _flag(environ: Mapping[str, str], name: str) -> bool:
    value = environ.get(name, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{name}: expected true or false, not {value!r}")
