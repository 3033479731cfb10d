"""EventBridge helpers shared by the constructs: patterns from ``wiring`` and function targets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs

#: Lambda async invocation: retries of a failed run, then the on-failure destination.
RETRY_ATTEMPTS: Final = 2
#: How long an event may wait (throttling, retries) before it goes to the failure queue.
#: Every run re-reads the current spec, so a late event is still right; past an hour the
#: drift schedule has repaired the state anyway and the operator should hear about it.
MAX_EVENT_AGE: Final = Duration.hours(1)
#: EventBridge -> Lambda delivery retries (only fail when Lambda refuses the invoke).
TARGET_RETRY_ATTEMPTS: Final = 20


def to_event_pattern(pattern: Mapping[str, Any]) -> events.EventPattern:
    """Turn a kops-iam event pattern dict into a CDK ``EventPattern``."""
    return events.EventPattern(**{key.replace("-", "_"): value for key, value in pattern.items()})


def function_target(
    function: lambda_.IFunction, dead_letters: sqs.IQueue
) -> targets.LambdaFunction:
    """A rule target invoking ``function``; undeliverable events go to ``dead_letters``."""
    return targets.LambdaFunction(
        function,
        dead_letter_queue=dead_letters,
        retry_attempts=TARGET_RETRY_ATTEMPTS,
        max_event_age=MAX_EVENT_AGE,
    )
