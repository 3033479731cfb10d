"""The kops-iam stack: every capability's construct, wired together, plus the outputs."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from infra.audit import AuditTrail
from infra.config import StackConfig
from infra.delivery import FailureHandling
from infra.drift import DriftQueues
from infra.reconciler import TIMEOUT, ReconcilerFunction
from infra.specs import SpecsBucket

STACK_NAME: Final = "KopsIam"


class KopsIamStack(Stack):
    """Specs bucket -> reconciler function -> IAM, with audit trail, drift and alarms.

    Parameters
    ----------
    config
        The validated ``kops-iam:*`` context.
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            description="kops-iam: keeps kops cluster IAM roles exactly as their specs say",
            **kwargs,
        )
        self.config = config
        self.specs = SpecsBucket(self, "Specs", config=config)
        self.failures = FailureHandling(self, "Failures", config=config)
        self.audit = AuditTrail(self, "Audit", config=config)
        self.drift = DriftQueues(self, "Drift", config=config, timeout=TIMEOUT)
        self.reconciler = ReconcilerFunction(
            self,
            "Reconciler",
            config=config,
            bucket_arn=self.specs.bucket.bucket_arn,
            bucket_name=self.specs.bucket.bucket_name,
            audit_bus_arn=self.audit.bus.event_bus_arn,
            audit_bus_name=self.audit.bus.event_bus_name,
            failure_queue=self.failures.queue,
            drift_queue=self.drift.queue,
            snapshot_bucket=self.drift.snapshots,
        )
        function = self.reconciler.function
        self.specs.trigger(function, self.failures.queue)
        self.drift.connect(function, dead_letters=self.failures.queue)
        self.drift.only_for(self.reconciler.role)
        self.failures.watch(function, drift_dead_letters=self.drift.dead_letters)

        outputs = {
            "SpecsBucketName": (self.specs.bucket.bucket_name, "Bucket holding <cluster>/config"),
            "AuditBusArn": (self.audit.bus.event_bus_arn, "EventBridge bus of the audit events"),
            "FailureQueueUrl": (
                self.failures.queue.queue_url,
                "Events that could not be processed",
            ),
            "AuditLogGroupName": (self.audit.log_group.log_group_name, "Audit events, as logs"),
            "DriftQueueUrl": (self.drift.queue.queue_url, "One drift check per cluster and period"),
            "DriftDeadLetterQueueUrl": (
                self.drift.dead_letters.queue_url,
                "Drift checks that failed on every delivery",
            ),
            "AlarmTopicArn": (self.failures.topic.topic_arn, "Subscribe here to hear of failures"),
            "FunctionName": (function.function_name, "The reconciler function"),
        }
        for output_id, (value, description) in outputs.items():
            CfnOutput(self, output_id, value=value, description=description)
