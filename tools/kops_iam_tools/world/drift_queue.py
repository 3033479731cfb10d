"""The drift queue's event source mapping, played: moto runs no Lambda.

In AWS, Lambda polls the drift queue, hands the function batches of drift checks as one SQS
event, deletes the messages the answer does not list under ``batchItemFailures`` and leaves
the others to come back after their visibility timeout (or the back-off the function gave
them), at most ``maxReceiveCount`` times before the redrive policy moves them to the
dead-letter queue. Whoever stands in for Lambda here (the test world, the emulator's
runner, the benchmarks' workers) does the same with :class:`DriftQueue`, except that failed
checks come back at once: waiting out a back-off would only make tests wait. moto applies
the redrive policy itself.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from kops_iam_tools.world.names import REGION

#: SQS hands out at most ten messages per ``ReceiveMessage``.
RECEIVE_MAX: Final = 10


@dataclass(frozen=True)
class DriftQueue:
    """The drift queue, seen as Lambda's event source sees it."""

    sqs: Any
    url: str
    arn: str
    region: str = REGION

    def receive(self, batch_size: int = RECEIVE_MAX, wait_seconds: int = 0) -> list[dict[str, Any]]:
        """Up to ``batch_size`` messages (several receives), with their attributes."""
        messages: list[dict[str, Any]] = []
        while len(messages) < batch_size:
            got = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=min(RECEIVE_MAX, batch_size - len(messages)),
                WaitTimeSeconds=0 if messages else wait_seconds,
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            if not got:
                break
            messages.extend(got)
        return messages

    def event(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """The SQS event Lambda hands the function for ``messages``."""
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": dict(m.get("Attributes", {})),
                    "messageAttributes": {},
                    "md5OfBody": m.get("MD5OfBody", ""),
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": self.region,
                }
                for m in messages
            ]
        }

    def settle(
        self,
        messages: Sequence[Mapping[str, Any]],
        answer: Mapping[str, Any] | None,
        *,
        redeliver: bool = True,
    ) -> tuple[int, int]:
        """Delete what the invocation checked, put back what it did not; ``(done, failed)``.

        ``answer`` is the handler's return value, ``None`` when it raised (the whole batch
        failed). With ``redeliver``, failed messages are visible again at once.
        """
        ids = {m["MessageId"] for m in messages}
        if answer is None:
            failed = set(ids)
        else:
            failed = {str(f.get("itemIdentifier")) for f in answer.get("batchItemFailures") or []}
            if not failed <= ids:  # Lambda: an unknown identifier fails the whole batch
                failed = set(ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        again = [m for m in messages if m["MessageId"] in failed]
        for chunk in _chunks(done):
            self.sqs.delete_message_batch(
                QueueUrl=self.url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in chunk],
            )
        if redeliver:
            for chunk in _chunks(again):
                self.sqs.change_message_visibility_batch(
                    QueueUrl=self.url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                        for i, m in chunk
                    ],
                )
        return len(done), len(again)

    def depth(self) -> int:
        """Messages in the queue, visible or taken."""
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


def _chunks(
    messages: Sequence[Mapping[str, Any]],
) -> list[list[tuple[int, Mapping[str, Any]]]]:
    numbered = list(enumerate(messages))
    return [numbered[i : i + RECEIVE_MAX] for i in range(0, len(numbered), RECEIVE_MAX)]
