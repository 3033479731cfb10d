"""Specs bucket: where cluster specs live, and how their changes reach the function.

Two modes (docs/adr/0010), one trigger (docs/adr/0093): an EventBridge rule on the default
bus matching object created/deleted events on the keys the function reads, a cluster's
``<cluster>/config`` and its ``<cluster>/instancegroup/<name>`` objects
(``kops_iam.aws.events.s3_spec_event_pattern``). S3 notification filters have one prefix
and one suffix, so they cannot select ``*/instancegroup/*``; EventBridge wildcards can.
Nested keys (``a/b/config``) still match; the function ignores them.

* **Own bucket** (default): versioned, SSE-S3, public access blocked, TLS 1.2+ only, server
  access logs to a second bucket, old versions expired, its EventBridge notifications on.
  Its policy denies writing or deleting what the function reads (``*/config`` and
  ``*/instancegroup/*``) to every role a kops cluster runs with (docs/security.md):
  otherwise a node could rewrite its own spec (kops' state-store grant is ``s3:*`` on
  ``<cluster>/``) or, through ``additionalPolicies``, another cluster's, and kops-iam would
  apply it.
* **Existing bucket** (a kops state store, ``kops-iam:existingBucketName``): the stack never
  touches it (docs/security.md gives the same policy statement to add); the bucket owner
  must turn on its EventBridge notifications, and the stack must live in the bucket's
  region.
"""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.eventing import function_target, to_event_pattern
from infra.nag import acknowledge
from kops_iam.aws.events import s3_spec_event_pattern
from kops_iam.domain.naming import kops_role_arn_patterns
from kops_iam.domain.state_store import INSTANCE_GROUP_DIRECTORY, SPEC_KEY_SUFFIX

ACCESS_LOG_EXPIRATION: Final = Duration.days(365)
#: The buckets outlive the stack, but a create that rolls back leaves no orphan (docs/adr/0070).
KEPT: Final = RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE
#: Construct id prefix of CDK's singleton custom resource writing bucket notifications.
NOTIFICATIONS_HANDLER: Final = "BucketNotificationsHandler"
#: What no role of a kops cluster may do to an object the function reads (rewrite it,
#: delete it, or bring back an older version by deleting the current one).
SPEC_WRITES: Final = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")
#: The keys the function reads: a cluster's spec and its InstanceGroups.
SPEC_OBJECT_PATTERNS: Final = (f"*{SPEC_KEY_SUFFIX}", f"*/{INSTANCE_GROUP_DIRECTORY}/*")


def kops_roles_never_write_specs(bucket: s3.IBucket) -> iam.PolicyStatement:
    """The bucket-policy statement denying spec and InstanceGroup writes to every kops
    cluster role."""
    return iam.PolicyStatement(
        sid="KopsClusterRolesNeverWriteSpecs",
        effect=iam.Effect.DENY,
        principals=[iam.AnyPrincipal()],
        actions=list(SPEC_WRITES),
        resources=[bucket.arn_for_objects(pattern) for pattern in SPEC_OBJECT_PATTERNS],
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
            removal_policy=KEPT,
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
            event_bridge_enabled=True,
            lifecycle_rules=[
                s3.LifecycleRule(
                    noncurrent_version_expiration=Duration.days(
                        config.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                    expired_object_delete_marker=True,
                )
            ],
            removal_policy=KEPT,  # the specs outlive the stack
        )
        self.bucket.add_to_resource_policy(kops_roles_never_write_specs(self.bucket))

    def trigger(self, function: lambda_.IFunction, dead_letters: sqs.IQueue) -> None:
        """Deliver created/deleted events of spec and InstanceGroup keys to ``function``.

        Parameters
        ----------
        function
            The reconciler.
        dead_letters
            Where EventBridge puts events it could not deliver.
        """
        if isinstance(self.bucket, s3.Bucket):
            # CDK writes the bucket's EventBridge configuration through its
            # bucket-notification custom resource.
            _acknowledge_notifications_handler(Stack.of(self))
        events.Rule(
            self,
            "SpecChanged",
            description="S3 events on cluster spec and InstanceGroup keys -> reconciler",
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
