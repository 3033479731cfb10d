"""Specs bucket: where cluster specs live, and how their changes reach the function.

Two modes (docs/adr/0010):

* **Own bucket** (default): versioned, SSE-S3, public access blocked, TLS 1.2+ only, server
  access logs to a second bucket, old versions expired. Object created/removed events with
  a key ending in ``/config`` go to the function as S3 notifications. S3 filters match a
  suffix only, so ``a/b/config`` is delivered too; the function ignores such nested keys
  (``kops_iam.domain.state_store.cluster_from_key``).
  Its policy denies writing or deleting a spec (``*/config``) to every role a kops
  cluster runs with (docs/security.md): otherwise a node could rewrite its own spec (kops'
  state-store grant is ``s3:*`` on ``<cluster>/``) or, through ``additionalPolicies``,
  another cluster's, and kops-iam would apply it.
* **Existing bucket** (a kops state store, ``kops-iam:existingBucketName``): the stack never
  touches it (docs/security.md gives the same policy statement to add). An EventBridge rule
  on the default bus matches its S3 events (``wiring.s3_spec_event_pattern``); the bucket
  owner must turn on its EventBridge notifications, and the stack must live in the
  bucket's region.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_notifications as s3n
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.eventing import function_target, to_event_pattern
from infra.nag import acknowledge
from kops_iam.aws.events import s3_spec_event_pattern
from kops_iam.domain.naming import kops_role_arn_patterns
from kops_iam.domain.state_store import SPEC_KEY_SUFFIX

#: S3 events that make the function reconcile a cluster (own-bucket mode).
SPEC_EVENTS: Final = (s3.EventType.OBJECT_CREATED, s3.EventType.OBJECT_REMOVED)
ACCESS_LOG_EXPIRATION: Final = Duration.days(365)
#: Construct id prefix of CDK's singleton custom resource writing bucket notifications.
NOTIFICATIONS_HANDLER: Final = "BucketNotificationsHandler"
#: What no role of a kops cluster may do to a spec object (rewrite it, delete it, or bring
#: back an older version by deleting the current one).
SPEC_WRITES: Final = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")


def kops_roles_never_write_specs(bucket: s3.IBucket) -> iam.PolicyStatement:
    """The bucket-policy statement denying spec writes to every kops cluster role."""
    return iam.PolicyStatement(
        sid="KopsClusterRolesNeverWriteSpecs",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(SPEC_WRITES),
        resources=[bucket.arn_for_objects(f"*{SPEC_KEY_SUFFIX}")],
        conditions={
            "ArnLike": {"aws:PrincipalArn": kops_role_arn_patterns(Aws.PARTITION, Aws.ACCOUNT_ID)}
        },
    )


class SpecsBucket(Construct):
    """The specs bucket (created or imported) and the trigger from it to the function."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        self.owned = config.owns_bucket
        self.bucket: s3.IBucket
        if config.existing_bucket_name is not None:
            self.bucket = s3.Bucket.from_bucket_name(self, "Existing", config.existing_bucket_name)
            return
        access_logs = s3.Bucket(
            self,
            "AccessLogs",
            encryption=s3.BucketEncryption.S3_MANAGED,  # the only one log delivery supports
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            lifecycle_rules=[s3.LifecycleRule(expiration=ACCESS_LOG_EXPIRATION)],
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            versioned=True,
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            enforce_ssl=True,
            minimum_tls_version=1.2,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="specs/",
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(
                        config.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    expired_object_delete_marker=True,
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,  # the specs outlive the stack
        )
        self.bucket.add_to_resource_policy(kops_roles_never_write_specs(self.bucket))

    def trigger(self, function: lambda_.IFunction, dead_letters: sqs.IQueue) -> None:
        """Deliver spec created/removed events to ``function``.

        Parameters
        ----------
        function
            The reconciler.
        dead_letters
            Where EventBridge puts events it could not deliver (existing-bucket mode).
        """
        if isinstance(self.bucket, s3.Bucket):
            for event in SPEC_EVENTS:
                self.bucket.add_event_notification(
                    event,
                    s3n.LambdaDestination(function),
                    s3.NotificationKeyFilter(suffix=SPEC_KEY_SUFFIX),
                )
            _acknowledge_notifications_handler(Stack.of(self))
            return
        events.Rule(
            self,
            "SpecChanged",
            description="S3 events on cluster spec keys of the existing bucket -> reconciler",
            event_pattern=to_event_pattern(s3_spec_event_pattern(self.bucket.bucket_name)),
            targets=[function_target(function, dead_letters)],
        )


def _acknowledge_notifications_handler(stack: Stack) -> None:
    """Findings on CDK's own bucket-notification handler (a stack-level singleton)."""
    for child in stack.node.children:
        if child.node.id.startswith(NOTIFICATIONS_HANDLER):
            acknowledge(
                child,
                "AwsSolutions-IAM4",
                "CDK's bucket-notification handler (a deploy-time custom resource that writes "
                "the specs bucket's notification configuration) uses the AWS managed "
                "basic-execution policy for its logs; it is CDK's construct, not ours.",
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole",
            )
