"""CDK context: defaults, the string spellings ``-c`` gives, and clear errors at synth."""

from __future__ import annotations

import re

import pytest
from infra_support import EXISTING_CONTEXT, ROOT, context_with

from infra.config import ConfigError, StackConfig, context_keys, rate_minutes
from kops_iam.application.settings import SETTING, SETTINGS, Defaults
from kops_iam_tools.docs import render, settings_markdown


def test_defaults_when_the_context_sets_nothing() -> None:
    # Given no kops-iam:* key (only CDK's own feature flags)
    # When the configuration is read
    config = StackConfig.from_context(context_with())

    # Then the stack creates its bucket and runs in apply mode with the documented defaults
    assert config.owns_bucket
    assert config.mode == "apply"
    assert config.audit_bus_name == Defaults.AUDIT_BUS_NAME
    assert config.permissions_boundary_arn is None
    assert config.allowed_actions == ()
    assert config.adopt_existing_roles is False
    assert config.drift_rate.to_minutes() == 60
    # No reservation: an account with a low concurrency quota could not deploy one
    assert config.reserved_concurrency is None


def test_cli_strings_are_accepted_like_json_values() -> None:
    # Given the values as `cdk -c key=value` passes them (all strings) and as JSON
    config = StackConfig.from_context(EXISTING_CONTEXT)

    # Then lists, booleans and numbers are parsed
    assert config.allowed_actions == ("iam:PassRole", "ec2:RunInstances")
    assert len(config.allowed_managed_policy_arns) == 2
    assert config.adopt_existing_roles is True
    assert config.retain_on_delete is True
    assert config.audit_archive_retention_days == 0
    assert config.drift_rate.to_minutes() == 30
    assert config.reserved_concurrency == 5
    assert not config.owns_bucket


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("kops-iam:mode", "dry-run", "'apply' or 'plan'"),
        ("kops-iam:adoptExistingRoles", "maybe", "valid boolean"),
        ("kops-iam:permissionsBoundaryArn", "my-boundary", "managed policy ARN"),
        ("kops-iam:allowedManagedPolicyArns", "arn:aws:iam::aws:policy/*", "no wildcards"),
        ("kops-iam:allowedActions", "iam:Pass Role", "IAM action"),
        ("kops-iam:unknownActions", "ignore", "'warn' or 'error'"),
        ("kops-iam:knownActions", "aidevops:Get*", "exact IAM action"),
        ("kops-iam:existingBucketName", "Not_A_Bucket", "S3 bucket name"),
        ("kops-iam:driftSchedule", "every hour", "rate(6 hours)"),
        ("kops-iam:driftSchedule", "rate(1 minute)", "at least 5 minutes"),
        ("kops-iam:auditLogRetentionDays", "13", "retention periods"),
        ("kops-iam:auditArchiveRetentionDays", "-1", "greater than or equal to 0"),
        ("kops-iam:auditBusName", "default", "custom bus"),
        ("kops-iam:alarmEmail", "ops", "email address"),
        ("kops-iam:reservedConcurrency", "0", "greater than or equal to 1"),
        ("kops-iam:reservedConcurrency", "1001", "less than or equal to 1000"),
        ("kops-iam:reservedConcurrency", "some", "valid integer"),
        ("kops-iam:driftConcurrency", "1", "greater than or equal to 2"),
        ("kops-iam:driftConcurrency", "1001", "less than or equal to 1000"),
        ("kops-iam:driftRead", "sometimes", "'bulk' or 'per-role'"),
        ("kops-iam:bucketName", "x", "unknown context key"),
    ],
)
def test_a_bad_value_is_named_with_its_reason(key: str, value: str, reason: str) -> None:
    # Given one bad kops-iam:* value
    # When the configuration is read
    with pytest.raises(ConfigError) as error:
        StackConfig.from_context({key: value})

    # Then the error names the key and says what is wrong
    assert f"{key}: " in str(error.value)
    assert reason in str(error.value)


def test_every_bad_value_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as error:
        StackConfig.from_context({"kops-iam:mode": "x", "kops-iam:logRetentionDays": "2"})

    assert "kops-iam:mode" in str(error.value)
    assert "kops-iam:logRetentionDays" in str(error.value)


def test_a_bucket_key_needs_an_existing_bucket() -> None:
    with pytest.raises(ConfigError, match="needs kops-iam:existingBucketName"):
        StackConfig.from_context(
            {
                "kops-iam:existingBucketKmsKeyArn": EXISTING_CONTEXT[
                    "kops-iam:existingBucketKmsKeyArn"
                ]
            }
        )


def test_drift_workers_leave_reserved_instances_for_spec_events() -> None:
    # Given a reservation no larger than the drift checks' concurrency, synth stops
    with pytest.raises(ConfigError, match=r"driftConcurrency \(5\) must be below"):
        StackConfig.from_context({"kops-iam:reservedConcurrency": "5"})
    # And one larger leaves room for spec events
    config = StackConfig.from_context(
        {"kops-iam:reservedConcurrency": "6", "kops-iam:driftConcurrency": "5"}
    )
    assert (config.drift_concurrency, config.reserved_concurrency) == (5, 6)


def test_synth_stops_on_a_bad_value() -> None:
    # Given the app built with a bad context value
    from infra.app import build_app

    # Then building it fails before any template is written
    with pytest.raises(ConfigError, match="kops-iam:mode"):
        build_app(context_with({"kops-iam:mode": "yolo"}), outdir=None)


@pytest.mark.parametrize(
    ("expression", "minutes"),
    [("rate(1 hour)", 60), ("rate(6 hours)", 360), ("rate(1 day)", 1440), ("rate(5 minutes)", 5)],
)
def test_rate_expressions(expression: str, minutes: int) -> None:
    assert rate_minutes(expression) == minutes


def test_the_stack_model_has_exactly_the_tables_context_keys() -> None:
    # Given the settings table and the stack's context model
    table = {s.context_key: s.name for s in SETTINGS if s.context_key}
    fields = {str(f.alias): name for name, f in StackConfig.model_fields.items()}
    # Then they name the same keys, with the same attribute names and descriptions
    assert fields == table
    assert context_keys() == [s.context_key for s in SETTINGS if s.context_key]
    for name, field in StackConfig.model_fields.items():
        assert field.description == SETTING[name].description


def test_each_documented_default_is_the_models() -> None:
    for name in StackConfig.model_fields:
        default = getattr(StackConfig(), name)
        shown = SETTING[name].default
        if default in (None, (), ""):
            assert shown.startswith("none"), (name, shown)
        else:
            expected = str(default).lower() if isinstance(default, bool) else str(default)
            assert shown.split(":")[0] == expected, (name, shown)


def test_the_settings_page_is_generated_from_the_settings_table() -> None:
    # Given docs/settings.md, When its generated blocks are rendered again, Then nothing changes
    text = (ROOT / "docs" / "settings.md").read_text()
    assert "<!-- generated:settings -->" in text
    assert render(text) == text, "stale settings table: run make docs-tables"
    # And the rendered table has one row per setting
    assert settings_markdown().count("\n") == len(SETTINGS) + 1


def test_the_security_page_has_one_rights_table_then_the_threat_model() -> None:
    # The function's rights are one can/cannot table; the threat model after it (issue 10)
    # has one attack/defence/proof table per trust boundary
    rights, threats = (ROOT / "docs" / "security.md").read_text().split("\n## Threat model\n")
    header = r"(?m)^(\|.*\|)\n\|[-| :]+\|\n"
    assert re.findall(header, rights) == ["| Area | The function can | The function cannot |"]
    assert set(re.findall(header, threats)) == {"| Attack | Defence | Proof |"}


def test_cdk_json_sets_no_kops_iam_key() -> None:
    # The defaults live in one place (infra/config.py); cdk.json holds CDK's flags only.
    assert not [key for key in context_with() if key.startswith("kops-iam:")]
