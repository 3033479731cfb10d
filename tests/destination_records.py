"""Builders of what lands in the failure queue, shaped as AWS documents it (test support).

Two producers write to the stack's failure queue, in two shapes:

* Lambda's **on-failure destination** (asynchronous invocations whose retries ran out or
  that grew too old) writes an *invocation record*: the original event is its
  ``requestPayload``. Shape from the Lambda Developer Guide, "Capturing records of Lambda
  asynchronous invocations",
  https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
  (for an SQS destination the record is the message body).
* An EventBridge **rule target's dead-letter queue** gets the event itself as the message
  body, and says why in message attributes (``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``,
  ``ERROR_MESSAGE``, ``EXHAUSTED_RETRY_CONDITION``, ``RETRY_ATTEMPTS``). EventBridge User
  Guide, "Using dead-letter queues to process undelivered events",
  https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html

A queue message reaches a consumer either as ``ReceiveMessage`` returns it (``Body``,
``MessageAttributes`` with ``StringValue``/``DataType``) or inside a Lambda SQS event
(``Records[].body``, ``messageAttributes`` with ``stringValue``/``dataType``):
:func:`sqs_event` builds the latter. Self-contained (no project import), so it can move to
wherever the event builders live.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:kops-iam-reconciler"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:KopsIam-FailuresFailedEventsC4C19CCB-AbCdEf123456"


def on_failure_record(
    payload: Mapping[str, Any],
    *,
    function_arn: str = FUNCTION_ARN,
    condition: str = "RetriesExhausted",
    invoke_count: int = 3,
    function_error: str = "Unhandled",
    error_message: str = "1 of 1 spec(s) failed to reconcile",
) -> dict[str, Any]:
    """The invocation record Lambda sends to an on-failure destination for ``payload``.

    ``condition`` is ``RetriesExhausted`` in AWS's example; events dropped for their age
    carry another value, which a consumer must accept as well (any but ``Success``).
    """
    return {
        "version": "1.0",
        "timestamp": "2026-01-15T12:03:05.568Z",
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": invoke_count,
        },
        "requestPayload": dict(payload),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": function_error,
        },
        "responsePayload": {
            "errorMessage": error_message,
            "errorType": "ReconcileFailed",
            "requestId": "",
            "stackTrace": ['  File "/var/task/kops_iam/application/handler.py", line 1'],
        },
    }


def dead_letter(
    event: Mapping[str, Any],
    *,
    rule_arn: str = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/KopsIam-DriftSchedule",
    target_arn: str = FUNCTION_ARN,
    error_code: str = "ERROR_FROM_TARGET",
    exhausted: str = "MaximumRetryAttempts",
    retry_attempts: int = 0,
) -> dict[str, Any]:
    """An EventBridge dead letter as ``ReceiveMessage`` returns it (``Body`` + attributes)."""
    attributes = {
        "RULE_ARN": rule_arn,
        "TARGET_ARN": target_arn,
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": "Lambda returned an error",
        "EXHAUSTED_RETRY_CONDITION": exhausted,
        "RETRY_ATTEMPTS": str(retry_attempts),
    }
    return {
        "Body": json.dumps(event),
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }


def queue_message(body: Mapping[str, Any]) -> dict[str, Any]:
    """A message without attributes (an on-failure record) as ``ReceiveMessage`` returns it."""
    return {"Body": json.dumps(body), "MessageAttributes": {}}


def sqs_event(messages: Iterable[Mapping[str, Any]], queue_arn: str = QUEUE_ARN) -> dict[str, Any]:
    """The Lambda SQS event an event source mapping on the queue would deliver."""
    records = []
    for message in messages:
        body = str(message["Body"])
        records.append(
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "AQEB" + uuid.uuid4().hex,
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1768478585000"},
                "messageAttributes": {
                    name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": queue_arn.split(":")[3],
            }
        )
    return {"Records": records}
