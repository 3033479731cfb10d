"""The events the function receives, built as AWS sends them: written once, used everywhere.

* :func:`s3_record` / :func:`s3_notification`: an S3 event notification (the stack's own
  bucket notifies the function directly);
* :func:`sqs_event`: SQS messages wrapping such notifications (a queue between S3 and
  the function);
* :func:`object_event`: S3 ``Object Created``/``Object Deleted`` through EventBridge (the
  stack's existing-bucket mode);
* :func:`scheduled_event`: the drift schedule's event;
* :func:`on_failure_record`: what Lambda's on-failure destination keeps of an event whose
  every attempt failed (the failure queue's message body);
* :func:`dead_letter`: what an EventBridge target's dead-letter queue keeps of an event it
  could not deliver (the event as the body, why in message attributes);
* :func:`queue_message` / :func:`sqs_event_of`: a queue's message as ``ReceiveMessage``
  returns it, and messages as Lambda's SQS event source delivers them (docs/adr/0072).

Defaults are the world's names (:mod:`kops_iam_tools.world.names`) and the stack's bucket;
times default to now. The shapes follow the samples in ``events/`` (AWS's documented
examples); moto's own deliveries differ in the ways ``tests/README.md`` lists.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from kops_iam.application.settings import Defaults
from kops_iam.aws.events import S3_OBJECT_CREATED, S3_OBJECT_DELETED
from kops_iam_tools.world.function import function_arn
from kops_iam_tools.world.names import ACCOUNT, DELIVERY_ATTEMPTS, DRIFT_RULE, REGION


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The fields that have a value (S3 leaves out what an event does not carry)."""
    return {name: value for name, value in fields.items() if value is not None}


def _moment(when: datetime | None, millis: bool = False) -> str:
    moment = when or datetime.now(UTC)
    if millis:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def s3_record(
    key: str,
    *,
    bucket: str = Defaults.SPECS_BUCKET,
    event_name: str = "ObjectCreated:Put",
    version_id: str | None = None,
    etag: str | None = None,
    size: int | None = None,
    sequencer: str | None = None,
    region: str = REGION,
    when: datetime | None = None,
) -> dict[str, Any]:
    """One S3 notification record; the key URL-encoded as S3 encodes it (``quote_plus``)."""
    obj = _present(
        {
            "key": quote_plus(key, safe="/"),
            "size": size,
            "eTag": etag,
            "versionId": version_id,
            "sequencer": sequencer,
        }
    )
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _moment(when, millis=True),
        "eventName": event_name,
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "kops-iam-specs",
            "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
            "object": obj,
        },
    }


def s3_notification(*records: Mapping[str, Any]) -> dict[str, Any]:
    """An S3 event notification holding ``records`` (:func:`s3_record`)."""
    return {"Records": [dict(r) for r in records]}


def sqs_event(
    *bodies: Mapping[str, Any] | str,
    queue: str = "kops-iam-spec-events",
    region: str = REGION,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """SQS messages as Lambda's SQS event source delivers them; each body is JSON-encoded
    unless already a string (so a malformed body can be built too)."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": f"arn:aws:sqs:{region}:{account}:{queue}",
                "awsRegion": region,
            }
            for index, body in enumerate(bodies)
        ]
    }


def object_event(
    key: str,
    *,
    bucket: str = Defaults.SPECS_BUCKET,
    deleted: bool = False,
    version_id: str | None = None,
    etag: str | None = None,
    size: int | None = None,
    sequencer: str | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    when: datetime | None = None,
) -> dict[str, Any]:
    """An S3 ``Object Created`` (or, with ``deleted``, ``Object Deleted``) event as
    EventBridge delivers it to the function (a deletion carries no size or ETag)."""
    obj = _present(
        {
            "key": key,
            "size": None if deleted else size,
            "etag": None if deleted else etag,
            "version-id": version_id,
            "sequencer": sequencer,
        }
    )
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": S3_OBJECT_DELETED if deleted else S3_OBJECT_CREATED,
        "source": "aws.s3",
        "account": account,
        "time": _moment(when),
        "region": region,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": obj,
            "request-id": uuid.uuid4().hex[:16].upper(),
            "requester": account,
            "reason": "DeleteObject" if deleted else "PutObject",
        },
    }


def scheduled_event(
    *, region: str = REGION, account: str = ACCOUNT, when: datetime | None = None
) -> dict[str, Any]:
    """The event the drift schedule's EventBridge rule sends the function."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": _moment(when),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{DRIFT_RULE}"],
        "detail": {},
    }


def on_failure_record(
    event: Mapping[str, Any],
    *,
    error: str = "ReconcileFailed",
    message: str = "",
    attempts: int = DELIVERY_ATTEMPTS,
    request_id: str | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
    when: datetime | None = None,
    condition: str = "RetriesExhausted",
) -> dict[str, Any]:
    """What Lambda's on-failure destination receives for an asynchronous invocation whose
    every attempt failed: the original event under ``requestPayload``
    (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).
    ``condition`` is ``RetriesExhausted`` in AWS's example; events dropped for their age
    carry another value."""
    return {
        "version": "1.0",
        "timestamp": _moment(when, millis=True),
        "requestContext": {
            "requestId": request_id or str(uuid.uuid4()),
            "functionArn": f"{function_arn(region, account)}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": attempts,
        },
        "requestPayload": dict(event),
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "responsePayload": {"errorMessage": message or error, "errorType": error},
    }


def dead_letter(
    event: Mapping[str, Any],
    *,
    rule_arn: str | None = None,
    error_code: str = "ERROR_FROM_TARGET",
    exhausted: str = "MaximumRetryAttempts",
    retry_attempts: int = 0,
    region: str = REGION,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """An EventBridge dead letter as ``ReceiveMessage`` returns it: the event as the body,
    why in ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``, ``ERROR_MESSAGE``,
    ``EXHAUSTED_RETRY_CONDITION`` and ``RETRY_ATTEMPTS`` attributes
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html). The rule
    defaults to the drift schedule's."""
    attributes = {
        "RULE_ARN": rule_arn or f"arn:aws:events:{region}:{account}:rule/{DRIFT_RULE}",
        "TARGET_ARN": function_arn(region, account),
        "ERROR_CODE": error_code,
        "ERROR_MESSAGE": "Lambda returned an error",
        "EXHAUSTED_RETRY_CONDITION": exhausted,
        "RETRY_ATTEMPTS": str(retry_attempts),
    }
    return {
        "Body": json.dumps(dict(event)),
        "MessageAttributes": {
            name: {"DataType": "String", "StringValue": value} for name, value in attributes.items()
        },
    }


def queue_message(body: Mapping[str, Any]) -> dict[str, Any]:
    """A message without attributes (an on-failure record) as ``ReceiveMessage`` returns it."""
    return {"Body": json.dumps(dict(body)), "MessageAttributes": {}}


def sqs_event_of(
    *messages: Mapping[str, Any],
    queue_arn: str | None = None,
    region: str = REGION,
    account: str = ACCOUNT,
) -> dict[str, Any]:
    """Queue messages (``ReceiveMessage``'s shape, attributes included) as Lambda's SQS event
    source delivers them (``body``, ``messageAttributes`` with ``stringValue``)."""
    arn = queue_arn or f"arn:aws:sqs:{region}:{account}:{Defaults.FAILURE_QUEUE}"
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": f"handle-{index}",
                "body": str(message["Body"]),
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {
                    name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
                    for name, value in message.get("MessageAttributes", {}).items()
                },
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": arn.split(":")[3],
            }
            for index, message in enumerate(messages)
        ]
    }
