"""Drift correction: a schedule invoking the function, which then reconciles every spec."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import StackConfig
from infra.eventing import function_target


class DriftSchedule(Construct):
    """An EventBridge schedule (``kops-iam:driftSchedule``) targeting the function."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        function: lambda_.IFunction,
        dead_letters: sqs.IQueue,
    ) -> None:
        super().__init__(scope, construct_id)
        self.rule = events.Rule(
            self,
            "Schedule",
            description=f"kops-iam drift correction, {config.drift_schedule}",
            schedule=events.Schedule.rate(config.drift_rate),
            targets=[function_target(function, dead_letters)],
        )
