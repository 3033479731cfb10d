"""Delivery guarantees: where failed events end up and who hears about it.

* Failure queue: SQS, SSE-SQS encrypted, TLS only, 14 days retention. It receives the
  Lambda on-failure records (after :data:`~infra.eventing.RETRY_ATTEMPTS` retries or
  :data:`~infra.eventing.MAX_EVENT_AGE`) and the events EventBridge could not deliver.
* Alarm topic: SNS, encrypted with a customer-managed key CloudWatch may use (the AWS
  managed SNS key cannot be used by CloudWatch alarms), TLS only; optional email.
* Alarms: a message in the failure queue or the drift checks' dead-letter queue, function
  errors, failed destination deliveries;
  named ``kops-iam-*``, the only alarms the topic's policy and its key's policy admit.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Arn, ArnComponents, ArnFormat, Aws, Duration, RemovalPolicy
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.nag import acknowledge

ALARM_PERIOD: Final = Duration.minutes(5)
QUEUE_RETENTION: Final = Duration.days(14)
#: Every alarm's name starts with this: the topic and its key admit only these alarms.
ALARM_NAME_PREFIX: Final = "kops-iam-"


def alarm_arn_pattern() -> str:
    """ARNs of this stack's alarms (``arn:<partition>:cloudwatch:<region>:<account>:alarm:
    kops-iam-*``): what ``aws:SourceArn`` is when one of them publishes."""
    return Arn.format(
        ArnComponents(
            service="cloudwatch",
            resource="alarm",
            resource_name=f"{ALARM_NAME_PREFIX}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
            partition=Aws.PARTITION,
            region=Aws.REGION,
            account=Aws.ACCOUNT_ID,
        )
    )


def alarms_may(sid: str, actions: list[str], resource: str) -> iam.PolicyStatement:
    """A resource-policy statement letting CloudWatch act for this account's kops-iam
    alarms only (``aws:SourceAccount`` and ``aws:SourceArn``: confused-deputy protection)."""
    return iam.PolicyStatement(
        sid=sid,
        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
        actions=actions,
        resources=[resource],
        conditions={
            "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
            "ArnLike": {"aws:SourceArn": alarm_arn_pattern()},
        },
    )


class FailureHandling(Construct):
    """Failure queue, alarm topic and (after :meth:`watch`) the alarms."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        # No fixed QueueName: SQS refuses a deleted queue's name for 60 s, so a fixed name
        # would make a retry right after a rolled-back first deploy fail (docs/adr/0070).
        # Operators find the queue through the FailureQueueUrl output and its alarm.
        self.queue = sqs.Queue(
            self,
            "FailedEvents",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=QUEUE_RETENTION,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            "This queue is itself the terminal destination for failed events (Lambda "
            "on-failure destination and EventBridge dead letters); operators read and "
            "redrive it by hand, and its depth is alarmed.",
        )
        key = kms.Key(
            self,
            "AlarmTopicKey",
            description="kops-iam alarm topic encryption (usable by CloudWatch alarms)",
            enable_key_rotation=True,
            pending_window=Duration.days(7),
            removal_policy=RemovalPolicy.DESTROY,
        )
        # CloudWatch encrypts what it publishes to an SSE-KMS topic with the topic's key;
        # only this stack's alarms may have it do so (confused deputy, docs/adr/0071).
        key.add_to_resource_policy(
            alarms_may(
                "AllowCloudWatchAlarmsToUseKey",
                ["kms:Decrypt", "kms:GenerateDataKey*"],
                "*",  # in a key policy "*" means this key
            )
        )
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name="kops-iam alarms",
            master_key=key,
            enforce_ssl=True,
        )
        # enforce_ssl writes a topic policy, which replaces SNS's default one: without this
        # statement nothing lets CloudWatch publish, and every alarm is silent.
        self.topic.add_to_resource_policy(
            alarms_may("AllowCloudWatchAlarmsToPublish", ["sns:Publish"], self.topic.topic_arn)
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

    def watch(
        self, function: lambda_.Function, drift_dead_letters: sqs.IQueue | None = None
    ) -> list[cloudwatch.Alarm]:
        """Create the alarms on ``function``, the failure queue and the drift checks'
        dead-letter queue, all notifying the topic."""
        specs = [
            (
                "FailedEventsAlarm",
                "failed-events",
                self.queue.metric_approximate_number_of_messages_visible(
                    period=ALARM_PERIOD, statistic="Maximum"
                ),
                "An event could not be processed (retries exhausted or too old): read the "
                "failure queue (stack output FailureQueueUrl) and redrive it (docs/deploy.md).",
            ),
            (
                "FunctionErrorsAlarm",
                "function-errors",
                function.metric_errors(period=ALARM_PERIOD, statistic="Sum"),
                "The kops-iam reconciler failed a run (it will retry; see its logs).",
            ),
            (
                "DestinationFailuresAlarm",
                "lost-events",
                function.metric(
                    "DestinationDeliveryFailures", period=ALARM_PERIOD, statistic="Sum"
                ),
                "A failed event could not even be written to the failure queue: it is lost.",
            ),
        ]
        if drift_dead_letters is not None:
            specs.append(
                (
                    "FailedDriftChecksAlarm",
                    "failed-drift-checks",
                    drift_dead_letters.metric_approximate_number_of_messages_visible(
                        period=ALARM_PERIOD, statistic="Maximum"
                    ),
                    "A cluster's drift check failed on every delivery (its Apply Failed audit "
                    "event says why): read the drift dead-letter queue (stack output "
                    "DriftDeadLetterQueueUrl); the next drift period checks it again.",
                )
            )
        for construct_id, name, metric, description in specs:
            alarm = metric.create_alarm(
                self,
                construct_id,
                # Named, not generated: the topic's policy admits kops-iam-* alarms only,
                # and the deploy runbook fires them by name.
                alarm_name=f"{ALARM_NAME_PREFIX}{name}",
                alarm_description=description,
                threshold=1,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
            )
            alarm.add_alarm_action(actions.SnsAction(self.topic))
            self.alarms.append(alarm)
        return self.alarms
