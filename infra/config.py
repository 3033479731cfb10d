"""Stack configuration: every ``kops-iam:*`` CDK context key, validated at synth time.

One pydantic model validates every key; each key's name, documented default and meaning
come from the settings table (:data:`kops_iam.application.settings.SETTINGS`), which the
docs' settings table is checked against by a test.
Values may come from ``cdk.json`` (JSON types) or ``-c key=value`` (always strings), so
booleans, integers and lists also accept their string spellings. A bad value stops synth
with one error naming every offending key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Final, Literal

from aws_cdk import Duration
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kops_iam.application.settings import SETTINGS, Defaults

#: Every context key of this stack starts with this prefix.
PREFIX: Final = "kops-iam:"

#: Retention periods CloudWatch Logs accepts (days).
LOG_RETENTION_DAYS: Final = frozenset(
    {1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557}
    | {2922, 3288, 3653}
)
#: Lambda's default account concurrency quota; reserving more for one controller is a mistake.
MAX_RESERVED_CONCURRENCY: Final = 1000
#: The drift schedule may not run more often than this (each run checks every cluster).
MIN_DRIFT_MINUTES: Final = 5
#: An SQS event source's maximum concurrency is at least 2 (Lambda's own bound).
MIN_DRIFT_CONCURRENCY: Final = 2

_PARTITION = r"arn:aws(?:-cn|-us-gov)?"
_POLICY_ARN = re.compile(rf"^{_PARTITION}:iam::(?:\d{{12}}|aws):policy/[\w+=,.@/-]{{1,512}}$")
_KMS_KEY_ARN = re.compile(rf"^{_PARTITION}:kms:[a-z0-9-]+:\d{{12}}:key/[A-Za-z0-9-]{{1,128}}$")
_BUCKET = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9*?]+$")
_EXACT_ACTION = re.compile(r"^[A-Za-z0-9-]+:[A-Za-z0-9-]+$")
_BUS = re.compile(r"^[A-Za-z0-9._-]{1,256}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")


class ConfigError(ValueError):
    """The CDK context holds invalid ``kops-iam:*`` values (the message lists each)."""


def _split_list(value: object) -> object:
    """Accept a JSON list or a comma-separated string (``-c`` values are strings)."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def _log_retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        allowed = ", ".join(map(str, sorted(LOG_RETENTION_DAYS)))
        raise ValueError(f"must be one of the CloudWatch Logs retention periods ({allowed})")
    return value


def rate_minutes(expression: str) -> int:
    """Minutes between runs of a ``rate(<n> <unit>)`` expression.

    Raises
    ------
    ValueError
        When ``expression`` is not ``rate(<n> minute[s]|hour[s]|day[s])`` with ``n >= 1``.
    """
    match = _RATE.fullmatch(expression.strip())
    if not match or int(match.group(1)) < 1:
        raise ValueError(f"must look like 'rate(6 hours)', got {expression!r}")
    amount, unit = int(match.group(1)), match.group(2).rstrip("s")
    return amount * {"minute": 1, "hour": 60, "day": 1440}[unit]


StrList = Annotated[tuple[str, ...], BeforeValidator(_split_list)]

_BY_KEY: Final = {setting.context_key: setting for setting in SETTINGS if setting.context_key}


def _setting(context_key: str, default: Any) -> Any:
    """A field named, described and documented by the settings table (one source)."""
    setting = _BY_KEY[context_key]
    return Field(default=default, alias=context_key, description=setting.description)


class StackConfig(BaseModel):
    """The stack's settings, read from ``kops-iam:*`` CDK context keys."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True
    )

    existing_bucket_name: str | None = _setting("kops-iam:existingBucketName", None)
    existing_bucket_key_arn: str | None = _setting("kops-iam:existingBucketKmsKeyArn", None)
    permissions_boundary_arn: str | None = _setting("kops-iam:permissionsBoundaryArn", None)
    allowed_actions: StrList = _setting("kops-iam:allowedActions", ())
    unknown_actions: Literal["warn", "error"] = _setting("kops-iam:unknownActions", "warn")
    known_actions: StrList = _setting("kops-iam:knownActions", ())
    allowed_managed_policy_arns: StrList = _setting("kops-iam:allowedManagedPolicyArns", ())
    mode: Literal["apply", "plan"] = _setting("kops-iam:mode", "apply")
    adopt_existing_roles: bool = _setting("kops-iam:adoptExistingRoles", False)
    retain_on_delete: bool = _setting("kops-iam:retainOnDelete", False)
    manage_root_path_roles: bool = _setting("kops-iam:manageRootPathRoles", False)
    drift_schedule: str = _setting("kops-iam:driftSchedule", "rate(1 hour)")
    drift_concurrency: Annotated[int, Field(ge=MIN_DRIFT_CONCURRENCY, le=1000)] = _setting(
        "kops-iam:driftConcurrency", 5
    )
    drift_read: Literal["bulk", "per-role"] = _setting("kops-iam:driftRead", "bulk")
    event_read: Literal["bulk", "per-role"] = _setting("kops-iam:eventRead", "bulk")
    audit_bus_name: str = _setting("kops-iam:auditBusName", Defaults.AUDIT_BUS_NAME)
    audit_archive_retention_days: Annotated[int, Field(ge=0, le=36500)] = _setting(
        "kops-iam:auditArchiveRetentionDays", 365
    )
    audit_log_retention_days: Annotated[int, AfterValidator(_log_retention)] = _setting(
        "kops-iam:auditLogRetentionDays", 365
    )
    log_retention_days: Annotated[int, AfterValidator(_log_retention)] = _setting(
        "kops-iam:logRetentionDays", 30
    )
    noncurrent_version_expiration_days: Annotated[int, Field(ge=1, le=3650)] = _setting(
        "kops-iam:noncurrentVersionExpirationDays", 90
    )
    reserved_concurrency: Annotated[int, Field(ge=1, le=MAX_RESERVED_CONCURRENCY)] | None = (
        _setting("kops-iam:reservedConcurrency", None)
    )
    alarm_email: str | None = _setting("kops-iam:alarmEmail", None)

    # Format checks, kept apart from the declarations above so those stay readable.
    @field_validator("existing_bucket_name")
    @classmethod
    def _bucket(cls, value: str | None) -> str | None:
        return _check_optional(value, _BUCKET, "an S3 bucket name")

    @field_validator("existing_bucket_key_arn")
    @classmethod
    def _bucket_key(cls, value: str | None) -> str | None:
        return _check_optional(value, _KMS_KEY_ARN, "a KMS key ARN")

    @field_validator("permissions_boundary_arn")
    @classmethod
    def _boundary(cls, value: str | None) -> str | None:
        return _check_optional(value, _POLICY_ARN, "a managed policy ARN")

    @field_validator("allowed_actions")
    @classmethod
    def _actions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_each(value, _ACTION, "an IAM action such as iam:PassRole")

    @field_validator("known_actions")
    @classmethod
    def _known_actions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_each(value, _EXACT_ACTION, "an exact IAM action such as aidevops:GetAsset")

    @field_validator("allowed_managed_policy_arns")
    @classmethod
    def _managed(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return _check_each(value, _POLICY_ARN, "a managed policy ARN (no wildcards)")

    @field_validator("drift_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if rate_minutes(value) < MIN_DRIFT_MINUTES:
            raise ValueError(f"must be at least {MIN_DRIFT_MINUTES} minutes apart, got {value!r}")
        return value

    @field_validator("audit_bus_name")
    @classmethod
    def _bus(cls, value: str) -> str:
        if value == "default":
            raise ValueError("must name a custom bus, not the default bus")
        return _check(value, _BUS, "an EventBridge bus name")

    @field_validator("alarm_email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        return _check_optional(value, _EMAIL, "an email address")

    @model_validator(mode="after")
    def _key_needs_bucket(self) -> StackConfig:
        if self.existing_bucket_key_arn and not self.existing_bucket_name:
            raise ValueError(
                "kops-iam:existingBucketKmsKeyArn needs kops-iam:existingBucketName "
                "(the bucket the stack creates uses SSE-S3)"
            )
        return self

    @model_validator(mode="after")
    def _drift_within_reservation(self) -> StackConfig:
        reserved = self.reserved_concurrency
        if reserved is not None and self.drift_concurrency >= reserved:
            raise ValueError(
                f"kops-iam:driftConcurrency ({self.drift_concurrency}) must be below "
                f"kops-iam:reservedConcurrency ({reserved}): drift workers would take every "
                "reserved instance and spec events would be throttled"
            )
        return self

    @classmethod
    def from_context(cls, context: Mapping[str, Any]) -> StackConfig:
        """Validate the ``kops-iam:*`` entries of a CDK context.

        Parameters
        ----------
        context
            The whole context (other keys, such as CDK feature flags, are ignored).

        Raises
        ------
        ConfigError
            Listing every invalid or unknown ``kops-iam:*`` key with its reason.
        """
        ours = {key: value for key, value in context.items() if key.startswith(PREFIX)}
        try:
            return cls.model_validate(ours)
        except ValidationError as error:
            raise ConfigError(_describe(error)) from None

    @property
    def owns_bucket(self) -> bool:
        """Whether the stack creates the specs bucket (no existing bucket named)."""
        return self.existing_bucket_name is None

    @property
    def drift_rate(self) -> Duration:
        """The drift schedule as a CDK duration."""
        return Duration.minutes(rate_minutes(self.drift_schedule))


def _check(value: str, pattern: re.Pattern[str], what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"must be {what}, got {value!r}")
    return value


def _check_optional(value: str | None, pattern: re.Pattern[str], what: str) -> str | None:
    return None if value is None or value == "" else _check(value, pattern, what)


def _check_each(values: tuple[str, ...], pattern: re.Pattern[str], what: str) -> tuple[str, ...]:
    bad = [value for value in values if not pattern.fullmatch(value)]
    if bad:
        raise ValueError(f"each item must be {what}; not: {', '.join(map(repr, bad))}")
    if len(set(values)) != len(values):
        raise ValueError("items must be unique")
    return values


def context_keys() -> list[str]:
    """Every ``kops-iam:*`` context key, in declaration order."""
    return [str(field.alias) for field in StackConfig.model_fields.values()]


def _describe(error: ValidationError) -> str:
    """One line per problem: ``<context key>: <reason>``."""
    lines = []
    for item in error.errors():
        key = str(item["loc"][0]) if item["loc"] else "context"
        if item["type"] == "extra_forbidden":
            known = ", ".join(context_keys())
            reason = f"unknown context key (known: {known})"
        else:
            reason = str(item["msg"]).removeprefix("Value error, ")
        lines.append(f"  {key}: {reason}")
    return "invalid CDK context:\n" + "\n".join(lines)
