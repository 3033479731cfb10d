"""Audit trail: a custom EventBridge bus for the function's outcome events, an archive of
them (replayable), and a rule copying each into a CloudWatch Logs group.

The log group's resource policy (letting EventBridge write to it) is a plain
``AWS::Logs::ResourcePolicy``: CDK's ``CloudWatchLogGroup`` target would instead deploy a
custom-resource Lambda with ``logs:PutResourcePolicy`` on ``*`` just to write it.
"""

from __future__ import annotations

import jsii
from aws_cdk import ArnFormat, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk.interfaces.aws_events import IRuleRef
from constructs import Construct

from infra.config import StackConfig
from infra.eventing import to_event_pattern
from kops_iam.application.settings import Defaults
from kops_iam.aws.audit import audit_event_pattern


def log_group_with_retention(
    scope: Construct, construct_id: str, *, name: str, days: int, removal: RemovalPolicy
) -> logs.LogGroup:
    """A log group keeping events ``days`` days (any CloudWatch Logs retention period).

    CDK's ``RetentionDays`` enum carries no numbers in Python, so the validated number of
    days is written to the CloudFormation property directly.
    """
    group = logs.LogGroup(scope, construct_id, log_group_name=name, removal_policy=removal)
    cfn = group.node.default_child
    assert isinstance(cfn, logs.CfnLogGroup)
    cfn.retention_in_days = days
    return group


def log_group_target_arn(group: logs.ILogGroup) -> str:
    """The ARN an EventBridge target needs: the log group's, without the ``:*`` suffix."""
    return Stack.of(group).format_arn(
        service="logs",
        resource="log-group",
        resource_name=group.log_group_name,
        arn_format=ArnFormat.COLON_RESOURCE_NAME,
    )


def omit_empty_archive_key(archive: events.Archive) -> None:
    """Leave ``KmsKeyIdentifier`` out of an archive that has no key.

    aws-cdk-lib (2.214 to at least 2.275) writes ``KmsKeyIdentifier: ""`` for an archive
    without a customer key, which some regions refuse with ``GeneralServiceException``
    (aws/aws-cdk#37847, fix in PR #37865). Without the property the archive uses an
    AWS-owned key, as intended. Harmless once CDK stops writing it (docs/adr/0077).
    """
    cfn = archive.node.default_child
    assert isinstance(cfn, events.CfnArchive)
    if not cfn.kms_key_identifier:
        cfn.add_property_deletion_override("KmsKeyIdentifier")


@jsii.implements(events.IRuleTarget)
class LogGroupTarget:
    """Rule target writing events to a log group whose resource policy is managed apart."""

    def __init__(self, group: logs.ILogGroup) -> None:
        self.group = group

    def bind(self, rule: IRuleRef, id: str | None = None) -> events.RuleTargetConfig:
        """Target configuration: just the log group ARN (``rule`` and ``id`` are unused)."""
        del rule, id
        return events.RuleTargetConfig(arn=log_group_target_arn(self.group))


class AuditTrail(Construct):
    """Audit bus, archive, log group and the rule between them."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        pattern = to_event_pattern(audit_event_pattern())
        self.bus = events.EventBus(self, "Bus", event_bus_name=config.audit_bus_name)
        self.archive = events.Archive(
            self,
            "Archive",
            source_event_bus=self.bus,
            event_pattern=pattern,
            description="Every kops-iam audit event (replayable)",
            retention=Duration.days(config.audit_archive_retention_days),
        )
        omit_empty_archive_key(self.archive)
        self.log_group = log_group_with_retention(
            self,
            "Log",
            name=Defaults.AUDIT_LOG_GROUP,
            days=config.audit_log_retention_days,
            # Audit evidence outlives the stack, but not a create that rolls back: a fixed
            # name kept then would make every retry fail (docs/adr/0070).
            removal=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.rule = events.Rule(
            self,
            "ToLog",
            event_bus=self.bus,
            event_pattern=pattern,
            description="Every kops-iam audit event -> the audit log group",
            targets=[LogGroupTarget(self.log_group)],
        )
        self.log_policy = logs.ResourcePolicy(
            self,
            "LogPolicy",
            resource_policy_name="kops-iam-audit-events",
            policy_statements=[
                iam.PolicyStatement(
                    sid="EventBridgeWritesAuditEvents",
                    principals=[iam.ServicePrincipal("events.amazonaws.com")],
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                    # This group only; EventBridge documents no condition key for log targets.
                    resources=[self.log_group.log_group_arn],
                )
            ],
        )
        self.rule.node.add_dependency(self.log_policy)
