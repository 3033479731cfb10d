"""Deployment settings from the environment."""

from __future__ import annotations

import pytest

from kops_iam.application.settings import SETTINGS, Defaults, Env, Settings, SettingsError


def test_defaults_are_safe() -> None:
    settings = Settings.from_env({})
    assert settings.bucket == Defaults.SPECS_BUCKET and settings.bus_name == Defaults.AUDIT_BUS_NAME
    assert settings.mode == "apply" and not settings.dry_run
    assert not settings.adopt_existing_roles and not settings.retain_on_delete
    # a deployed function attaches no managed policy the operator did not list
    assert settings.options.allowed_managed_policies == frozenset()
    assert settings.options.allowed_actions == frozenset()
    # names newer than the catalogue are warnings unless they look like misspellings
    assert settings.options.unknown_actions == "warn"
    assert settings.options.known_actions == frozenset()


def test_every_variable_is_read() -> None:
    settings = Settings.from_env(
        {
            Env.SPECS_BUCKET: "specs",
            Env.AUDIT_BUS_NAME: "bus",
            Env.MODE: "PLAN",
            Env.PERMISSIONS_BOUNDARY: "arn:aws:iam::1:policy/b",
            Env.ALLOWED_ACTIONS: "iam:PassRole, ec2:RunInstances",
            Env.ALLOWED_MANAGED_POLICIES: "arn:aws:iam::1:policy/x",
            Env.ADOPT_EXISTING_ROLES: "true",
            Env.RETAIN_ON_DELETE: "1",
            Env.UNKNOWN_ACTIONS: "Error",
            Env.KNOWN_ACTIONS: "aidevops:GetAsset, agent-registry:InvokeAgent",
            "AWS_RETRY_MODE": "adaptive",
            "AWS_MAX_ATTEMPTS": "8",
        },
        account_id="123456789012",
    )
    assert (settings.bucket, settings.bus_name, settings.mode) == ("specs", "bus", "plan")
    assert settings.dry_run
    assert settings.options.permissions_boundary == "arn:aws:iam::1:policy/b"
    assert settings.options.allowed_actions == {"iam:PassRole", "ec2:RunInstances"}
    assert settings.options.allowed_managed_policies == {"arn:aws:iam::1:policy/x"}
    assert settings.options.account_id == "123456789012"
    assert settings.options.unknown_actions == "error"
    assert settings.options.known_actions == {"aidevops:GetAsset", "agent-registry:InvokeAgent"}
    assert settings.adopt_existing_roles and settings.retain_on_delete
    config = settings.boto_config()
    assert config.retries == {"mode": "adaptive", "total_max_attempts": 8}
    assert config.connect_timeout == settings.connect_timeout


@pytest.mark.parametrize(
    "environ",
    [
        {Env.MODE: "yolo"},
        {Env.ADOPT_EXISTING_ROLES: "maybe"},
        {Env.UNKNOWN_ACTIONS: "ignore"},
        {"AWS_MAX_ATTEMPTS": "many"},
        {"AWS_MAX_ATTEMPTS": "0"},
        {"AWS_RETRY_MODE": "eager"},
    ],
)
def test_bad_values_fail_loudly(environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError):
        Settings.from_env(environ)


def test_with_account_fills_the_account_once() -> None:
    settings = Settings()
    assert settings.with_account(None) is settings
    assert settings.with_account("1").options.account_id == "1"


def test_env_names_are_the_tables() -> None:
    # Every environment variable the function reads is a row of the settings table
    names = {value for key, value in vars(Env).items() if key.isupper()}
    assert names == {s.env for s in SETTINGS if s.env}


def test_an_unknown_audience_fails_loudly_and_each_audience_names_its_setting() -> None:
    with pytest.raises(SettingsError, match="KOPS_IAM_AUDIENCE"):
        Settings.from_env({Env.AUDIENCE: "everyone"})
    stack = Settings.from_env({}).options.approval
    cli = Settings.from_env({Env.AUDIENCE: "cli"}).options.approval
    assert "kops-iam:allowedActions" in stack.action and "kops-iam:" not in cli.action
    assert cli.action.format(action="iam:PassRole") == "--allow-action iam:PassRole"
    assert "--allow-managed-policy" in cli.managed_policy
    assert "kops-iam:allowedManagedPolicyArns" in stack.managed_policy


def test_each_audience_is_told_its_own_unknown_action_settings() -> None:
    stack = Settings.from_env({}).options.approval
    cli = Settings.from_env({Env.AUDIENCE: "cli"}).options.approval
    assert cli.known_action.format(action="x:Y") == "--known-action x:Y"
    assert cli.refuse_unknown == "--unknown-actions error"
    assert stack.known_action.format(action="x:Y") == (
        "the CDK context key kops-iam:knownActions (add x:Y)"
    )
    assert stack.refuse_unknown == "the CDK context key kops-iam:unknownActions=error"
