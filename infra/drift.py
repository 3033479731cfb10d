"""Drift correction on AWS's own fan-out (docs/adr/0110).

* :class:`DriftQueues` - the drift queue (one message per cluster and period) and its
  dead-letter queue (redrive policy: ``Defaults.DRIFT_MAX_RECEIVES`` deliveries). Made
  before the function, whose policy names the queue.
* the snapshot bucket: the schedule's invocation leaves the period's IAM snapshot there
  (one object) for every worker (docs/adr/0117); only the function may read or write it
  (its policy denies every other principal), and the object expires when no period
  rewrites it.
* :meth:`DriftQueues.connect` - an EventBridge schedule (``kops-iam:driftSchedule``)
  invoking the function, which lists the specs and fills the queue; the queue's event source
  mapping feeding the function batches of checks, at most ``kops-iam:driftConcurrency`` at
  once (the IAM rate budget), reporting per-item failures (``ReportBatchItemFailures``).
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.eventing import function_target
from infra.nag import acknowledge
from kops_iam.application.settings import Defaults

#: Drift checks one invocation receives at most (Lambda gathers them for up to
#: :data:`BATCH_WINDOW`). A worker checks them ``drift_threads`` at a time; an unchanged
#: cluster is two S3 calls, so 50 take a few seconds, a batch of drifted ones under a minute.
BATCH_SIZE: Final = Defaults.DRIFT_BATCH_SIZE
BATCH_WINDOW: Final = Duration.seconds(5)
#: AWS: a queue feeding a function should hide a received message for at least six times
#: the function's timeout, so a batch still in progress is never handed out twice.
VISIBILITY_FACTOR: Final = 6
#: Drift checks older than a day are stale (a later period queued the cluster again).
DRIFT_RETENTION: Final = Duration.days(1)
DEAD_LETTER_RETENTION: Final = Duration.days(14)
#: Every period rewrites the snapshot; one no period rewrote for this long is gone.
SNAPSHOT_EXPIRATION: Final = Duration.days(2)
#: What no principal but the function may do to the snapshot bucket's objects: write one (a
#: forged snapshot could hide drift for a period) or read one (it holds the kops roles'
#: policies, which IAM shows only to those allowed to read IAM).
SNAPSHOT_OBJECT_ACTIONS: Final = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:DeleteObjectVersion",
)


class DriftQueues(Construct):
    """The drift queue and its dead-letter queue; :meth:`connect` wires the function."""

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, timeout: Duration
    ) -> None:
        super().__init__(scope, construct_id)
        self.config = config
        # No fixed QueueName (docs/adr/0070): the function gets the URL from its environment.
        self.dead_letters = sqs.Queue(
            self,
            "FailedChecks",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DEAD_LETTER_RETENTION,
        )
        acknowledge(
            self.dead_letters,
            "AwsSolutions-SQS3",
            "This is the drift queue's dead-letter queue: drift checks that failed on every "
            "delivery end here, and its depth is alarmed. The next period checks the "
            "cluster again anyway.",
        )
        self.queue = sqs.Queue(
            self,
            "Checks",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=DRIFT_RETENTION,
            visibility_timeout=Duration.seconds(timeout.to_seconds() * VISIBILITY_FACTOR),
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=self.dead_letters, max_receive_count=Defaults.DRIFT_MAX_RECEIVES
            ),
        )
        self.snapshots = s3.Bucket(
            self,
            "Snapshots",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=SNAPSHOT_EXPIRATION,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            # emptied by its lifecycle rule; a create that rolls back leaves no orphan
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        acknowledge(
            self.snapshots,
            "AwsSolutions-S1",
            "The snapshot bucket holds one object the function rewrites each period (a copy "
            "of IAM's own read-only answer, docs/adr/0117); only the function may read or "
            "write it (bucket policy). Access logs would record the function's own reads "
            "and writes, already in its logs and CloudTrail.",
        )
        self.rule: events.Rule | None = None
        self.source: sources.SqsEventSource | None = None

    def only_for(self, role: iam.IRole) -> None:
        """Deny reading or writing the snapshot bucket's objects to every principal but
        ``role`` (:data:`SNAPSHOT_OBJECT_ACTIONS`)."""
        self.snapshots.add_to_resource_policy(
            iam.PolicyStatement(
                sid="OnlyTheFunctionReadsAndWritesSnapshots",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(SNAPSHOT_OBJECT_ACTIONS),
                resources=[self.snapshots.arn_for_objects("*")],
                conditions={"ArnNotEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )

    def connect(self, function: lambda_.Function, dead_letters: sqs.IQueue) -> None:
        """The schedule invoking ``function`` (undeliverable schedule events go to
        ``dead_letters``, the failure queue) and the drift queue feeding it."""
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"kops-iam drift correction, {self.config.drift_schedule}",
            schedule=events.Schedule.rate(self.config.drift_rate),
            targets=[function_target(function, dead_letters)],
        )
        self.source = sources.SqsEventSource(
            self.queue,
            batch_size=BATCH_SIZE,
            max_batching_window=BATCH_WINDOW,
            report_batch_item_failures=True,
            max_concurrency=self.config.drift_concurrency,
        )
        function.add_event_source(self.source)
