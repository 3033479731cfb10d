"""The reconciler function: code, role, configuration, logs, tracing, async delivery."""

from __future__ import annotations

from typing import Final

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.audit import log_group_target_arn, log_group_with_retention
from infra.bundling import function_code
from infra.config import StackConfig
from infra.eventing import MAX_EVENT_AGE, RETRY_ATTEMPTS
from infra.nag import acknowledge, resource_text
from infra.permissions import Targets, reconciler_statements
from kops_iam.application.settings import SETTINGS, Defaults, Env
from kops_iam.aws.snapshot_store import SNAPSHOT_KEY

HANDLER: Final = "kops_iam.application.handler.lambda_handler"
#: Newest runtime whose bundled boto3 is documented (docs/adr/0011); arm64 (Graviton).
RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
MEMORY_MB: Final = 512
#: Long enough for a batch of drift checks of drifted clusters (each a full reconcile, ~15
#: calls of ~100 ms) and for the schedule's run to queue 10,000 checks.
TIMEOUT: Final = Duration.minutes(5)


def _env_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple | list):
        return ",".join(str(item) for item in value)
    return "" if value is None else str(value)


def environment(
    config: StackConfig,
    bucket_name: str,
    bus_name: str,
    drift_queue_url: str | None = None,
    snapshot_bucket: str | None = None,
) -> dict[str, str]:
    """Environment variables configuring the function, from the settings table.

    Every setting with both a context key and an environment variable is passed through;
    the bucket, the bus and the drift queue are the ones the stack resolved (created or
    named).
    """
    env = {
        setting.env: _env_value(getattr(config, setting.name))
        for setting in SETTINGS
        if setting.env and setting.context_key
    }
    env.update(
        {
            Env.SPECS_BUCKET: bucket_name,
            Env.AUDIT_BUS_NAME: bus_name,
            Env.AUDIENCE: "stack",
            "POWERTOOLS_SERVICE_NAME": Defaults.POWERTOOLS_SERVICE_NAME,
            "POWERTOOLS_METRICS_NAMESPACE": Defaults.METRICS_NAMESPACE,
            # The function uses no pydantic plugin: skip their discovery, a scan of every
            # installed distribution's entry points on the first model (docs/adr/0118).
            "PYDANTIC_DISABLE_PLUGINS": "__all__",
        }
    )
    if drift_queue_url is not None:
        env[Env.DRIFT_QUEUE_URL] = drift_queue_url
        env[Env.DRIFT_MAX_RECEIVES] = str(Defaults.DRIFT_MAX_RECEIVES)
    if snapshot_bucket is not None:
        env[Env.SNAPSHOT_BUCKET] = snapshot_bucket
    return dict(sorted(env.items()))


class ReconcilerFunction(Construct):
    """The Lambda function with its own least-privilege role and log group."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        bucket_arn: str,
        bucket_name: str,
        audit_bus_arn: str,
        audit_bus_name: str,
        failure_queue: sqs.IQueue,
        drift_queue: sqs.IQueue | None = None,
        snapshot_bucket: s3.IBucket | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = log_group_with_retention(
            self,
            "Log",
            name=f"/aws/lambda/{Defaults.FUNCTION_NAME}",
            days=config.log_retention_days,
            removal=RemovalPolicy.DESTROY,  # operational logs; the audit trail is kept apart
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="kops-iam reconciler: least privilege over kops-named IAM roles",
        )
        targets = Targets(
            partition=Aws.PARTITION,
            account=Aws.ACCOUNT_ID,
            region=Aws.REGION,
            bucket_arn=bucket_arn,
            audit_bus_arn=audit_bus_arn,
            log_group_arn=log_group_target_arn(self.log_group),
            url_suffix=Aws.URL_SUFFIX,
            drift_queue_arn=drift_queue.queue_arn if drift_queue is not None else None,
            # the one object the function writes and reads (docs/adr/0117)
            snapshot_object_arn=(
                snapshot_bucket.arn_for_objects(SNAPSHOT_KEY)
                if snapshot_bucket is not None
                else None
            ),
        )
        self.policy = iam.Policy(
            self,
            "Permissions",
            policy_name="kops-iam-reconciler",
            statements=reconciler_statements(config, targets),
            roles=[self.role],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=Defaults.FUNCTION_NAME,
            description="kops-iam: keeps kops cluster IAM roles exactly as their specs say",
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler=HANDLER,
            code=function_code(RUNTIME, ARCHITECTURE),
            role=self.role,
            memory_size=MEMORY_MB,
            timeout=TIMEOUT,
            # None: no reservation (docs/adr/0073 on why that is the default).
            reserved_concurrent_executions=config.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            environment=environment(
                config,
                bucket_name,
                audit_bus_name,
                drift_queue.queue_url if drift_queue is not None else None,
                snapshot_bucket.bucket_name if snapshot_bucket is not None else None,
            ),
            retry_attempts=RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(failure_queue),
        )
        # The role's policy must exist before the function can run with it.
        self.function.node.add_dependency(self.policy)
        # Lambda checks, when the EventInvokeConfig is written, that the role may send to
        # the on-failure destination (sqs:SendMessage, in the role's default policy): make
        # that order explicit rather than incidental (docs/adr/0074).
        invoke_config = self.function.node.find_child("EventInvokeConfig")
        invoke_config.node.add_dependency(self.role)
        self._acknowledge(targets)

    def _acknowledge(self, targets: Targets) -> None:
        """The cdk-nag findings on the function and its policies, each with its reason."""
        for arn, reason in targets.wildcard_reasons().items():
            acknowledge(
                self.policy, "AwsSolutions-IAM5", reason, f"Resource::{resource_text(self, arn)}"
            )
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions: "
            'AWS only accepts Resource "*". CDK adds them for active tracing; nothing else '
            "in the role's default policy uses a wildcard.",
            "Resource::*",
        )
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            f"{RUNTIME.name} is deliberate: the bundle relies on the runtime's own boto3, "
            "which AWS documents for this runtime, and its wheels are built for it "
            "(docs/adr/0011). Moving up is a one-line change checked by make synth.",
        )
