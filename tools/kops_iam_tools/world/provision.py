"""The stack's resources on moto, created once for every world: in-process or served.

:func:`provision` takes a client factory, so the same code makes the resources inside
``mock_aws`` (the test worlds, the benchmarks) and on moto's server over HTTP (the
emulator behind ``kops-iam local`` and ``kops-iam demo``, the end-to-end tests):

* the specs bucket, versioned as the stack makes it;
* spec deliveries (:data:`~kops_iam_tools.world.names.DELIVERIES`): ``notification``, the
  bucket's S3 notifications for ``ObjectCreated:*``/``ObjectRemoved:*`` on every key (a
  notification filter cannot select ``*/instancegroup/*``); ``eventbridge`` (what the stack
  does), the bucket's events to EventBridge and a rule with
  :func:`~kops_iam.aws.events.s3_spec_event_pattern` (``*/config``, ``*/instancegroup/*``).
  Each goes to a stand-in queue (:data:`~kops_iam_tools.world.names.DELIVERY_QUEUES`) that
  retries and then redrives to the failure queue, as Lambda's asynchronous invocation and
  on-failure destination do;
* the snapshot bucket (:attr:`Defaults.SNAPSHOT_BUCKET`) where the schedule's run leaves
  the period's IAM snapshot for the drift workers (docs/adr/0117);
* the failure queue (:attr:`Defaults.FAILURE_QUEUE`);
* the drift queue (:attr:`Defaults.DRIFT_QUEUE`) the schedule's run fills, with its
  dead-letter queue and redrive policy as the stack makes them
  (:mod:`~kops_iam_tools.world.drift_queue` plays its event source);
* the audit bus and a rule with :func:`~kops_iam.aws.audit.audit_event_pattern` copying
  every audit event to the tail queue (:attr:`Defaults.AUDIT_TAIL_QUEUE`), and optionally
  to a console queue;
* customer managed policies the caller names (boundaries, external policies).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from kops_iam.application.settings import Defaults
from kops_iam.aws.audit import audit_event_pattern
from kops_iam.aws.events import s3_spec_event_pattern
from kops_iam_tools.world.names import (
    AUDIT_CONSOLE_QUEUE,
    AUDIT_TAIL_RULE,
    DELIVERIES,
    DELIVERY_ATTEMPTS,
    DELIVERY_QUEUES,
    DRIFT_VISIBILITY_SECONDS,
    NOTIFICATION_ID,
    REGION,
    RETRY_DELAY_SECONDS,
    SPEC_EVENTS_RULE,
    Delivery,
)

#: A harmless policy document for a managed policy that only has to exist.
PLACEHOLDER_DOCUMENT: Mapping[str, Any] = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
}


@dataclass(frozen=True)
class Queue:
    """An SQS queue of the world."""

    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class Resources:
    """What :func:`provision` made."""

    account_id: str
    region: str
    bucket: str
    bus_name: str
    audit_tail: Queue
    failure: Queue
    drift: Queue
    drift_dead_letters: Queue
    #: The snapshot bucket ("" when none was made).
    snapshot_bucket: str = ""
    #: The stand-in queue of each spec delivery provisioned.
    deliveries: Mapping[Delivery, Queue] = field(default_factory=dict)
    console: Queue | None = None

    def managed_policy_arn(self, name: str) -> str:
        """ARN of a customer managed policy in the world's account."""
        return f"arn:aws:iam::{self.account_id}:policy/{name}"


def provision(
    client: Callable[[str], Any],
    *,
    bucket: str = Defaults.SPECS_BUCKET,
    bus_name: str = Defaults.AUDIT_BUS_NAME,
    region: str = REGION,
    deliveries: Collection[Delivery] = DELIVERIES[:1],
    versioned: bool = True,
    console: bool = False,
    managed_policies: Mapping[str, Mapping[str, Any] | None] | None = None,
    drift_max_receives: int = Defaults.DRIFT_MAX_RECEIVES,
    snapshot_bucket: str | None = Defaults.SNAPSHOT_BUCKET,
) -> Resources:
    """Create the stack's resources with clients from ``client(service)``.

    ``managed_policies`` maps a policy name to its document (``None``: a placeholder).
    """
    unknown = set(deliveries) - set(DELIVERIES)
    if unknown:
        raise ValueError(f"deliveries must be among {DELIVERIES}, not {sorted(unknown)}")
    s3, sqs, events, iam = (client(name) for name in ("s3", "sqs", "events", "iam"))
    account_id = str(client("sts").get_caller_identity()["Account"])
    for name, document in (managed_policies or {}).items():
        iam.create_policy(
            PolicyName=name, PolicyDocument=json.dumps(document or PLACEHOLDER_DOCUMENT)
        )
    _create_bucket(s3, bucket, region, versioned)
    if snapshot_bucket:
        _create_bucket(s3, snapshot_bucket, region, versioned=False)
    failure = create_queue(sqs, Defaults.FAILURE_QUEUE)
    drift_dead_letters = create_queue(sqs, Defaults.DRIFT_DEAD_LETTERS)
    drift = create_queue(
        sqs,
        Defaults.DRIFT_QUEUE,
        VisibilityTimeout=str(DRIFT_VISIBILITY_SECONDS),
        RedrivePolicy=json.dumps(
            {
                "deadLetterTargetArn": drift_dead_letters.arn,
                "maxReceiveCount": str(drift_max_receives),
            }
        ),
    )
    redrive = json.dumps(
        {"deadLetterTargetArn": failure.arn, "maxReceiveCount": str(DELIVERY_ATTEMPTS)}
    )
    queues = {
        delivery: create_queue(
            sqs,
            DELIVERY_QUEUES[delivery],
            VisibilityTimeout=str(RETRY_DELAY_SECONDS),
            RedrivePolicy=redrive,
        )
        for delivery in DELIVERIES
        if delivery in deliveries
    }
    configuration: dict[str, Any] = {}
    if "notification" in queues:
        configuration["QueueConfigurations"] = [
            {
                "Id": NOTIFICATION_ID,
                "QueueArn": queues["notification"].arn,
                # every key: a notification filter cannot select ``*/instancegroup/*``;
                # the function ignores the keys it does not read
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            }
        ]
    if "eventbridge" in queues:
        configuration["EventBridgeConfiguration"] = {}
        events.put_rule(
            Name=SPEC_EVENTS_RULE,
            EventPattern=json.dumps(s3_spec_event_pattern(bucket)),
            Description="S3 object created/deleted on spec keys of the specs bucket",
        )
        events.put_targets(
            Rule=SPEC_EVENTS_RULE,
            Targets=[{"Id": "invocations", "Arn": queues["eventbridge"].arn}],
        )
    if configuration:
        s3.put_bucket_notification_configuration(
            Bucket=bucket, NotificationConfiguration=configuration
        )
    audit_tail = create_queue(sqs, Defaults.AUDIT_TAIL_QUEUE)
    events.create_event_bus(Name=bus_name)
    events.put_rule(
        Name=AUDIT_TAIL_RULE,
        EventBusName=bus_name,
        EventPattern=json.dumps(audit_event_pattern()),
        Description="copies every kops-iam audit event to the queue local tools read",
    )
    targets = [{"Id": "audit-tail", "Arn": audit_tail.arn}]
    console_queue = create_queue(sqs, AUDIT_CONSOLE_QUEUE) if console else None
    if console_queue is not None:
        targets.append({"Id": "audit-console", "Arn": console_queue.arn})
    events.put_targets(Rule=AUDIT_TAIL_RULE, EventBusName=bus_name, Targets=targets)
    if "notification" in queues:
        drain(sqs, queues["notification"].url)  # moto's s3:TestEvent
    return Resources(
        account_id=account_id,
        region=region,
        bucket=bucket,
        bus_name=bus_name,
        audit_tail=audit_tail,
        failure=failure,
        drift=drift,
        drift_dead_letters=drift_dead_letters,
        snapshot_bucket=snapshot_bucket or "",
        deliveries=queues,
        console=console_queue,
    )


def create_queue(sqs: Any, name: str, **attributes: str) -> Queue:
    """Create an SQS queue; return its name, URL and ARN."""
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return Queue(name=name, url=str(url), arn=str(arn))


def drain(sqs: Any, queue_url: str, wait_seconds: int = 0) -> list[dict[str, Any]]:
    """Receive and delete every message of a queue; return the JSON bodies, oldest first.

    ``wait_seconds`` long-polls for the first message only.
    """
    bodies: list[dict[str, Any]] = []
    wait = wait_seconds
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        ).get("Messages", [])
        if not messages:
            return bodies
        wait = 0
        bodies.extend(json.loads(m["Body"]) for m in messages)
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )


def _create_bucket(s3: Any, bucket: str, region: str, versioned: bool) -> None:
    if region == "us-east-1":
        s3.create_bucket(Bucket=bucket)
    else:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
    if versioned:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
