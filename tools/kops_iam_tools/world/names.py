"""Names of the AWS world on moto: the stack's (from :class:`Defaults`) and the stand-ins.

The stack's own resources keep the names :mod:`kops_iam.application.settings` gives the CDK
stack. What the stack connects straight to the function (an S3 notification, an EventBridge
rule target, the on-failure destination) has no queue of its own in AWS; on moto, where no
Lambda code runs, a queue stands in and is named here.
"""

from __future__ import annotations

from typing import Final, Literal

from kops_iam.application.settings import Defaults

#: moto's default account and the region the world lives in.
ACCOUNT: Final = "123456789012"
REGION: Final = "us-east-1"
#: moto accepts any credentials; these never leave the machine.
DUMMY_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}

#: How spec events reach the function: the bucket's S3 notifications (the stack's own
#: bucket) or S3 events through EventBridge (the stack's existing-bucket mode).
Delivery = Literal["notification", "eventbridge"]
DELIVERIES: Final[tuple[Delivery, ...]] = ("notification", "eventbridge")

#: Stand-in queues for what the stack connects straight to the function, per delivery.
DELIVERY_QUEUES: Final[dict[Delivery, str]] = {
    "notification": f"{Defaults.FUNCTION_NAME}-invocations",
    "eventbridge": f"{Defaults.FUNCTION_NAME}-eventbridge-invocations",
}
#: The S3 notification configuration's id (the stack names its own the same).
NOTIFICATION_ID: Final = "kops-iam-specs"
#: The rule passing the bucket's S3 events on spec keys to the function (eventbridge mode).
SPEC_EVENTS_RULE: Final = f"{Defaults.FUNCTION_NAME}-spec-events"
#: The rule copying every audit event to :attr:`Defaults.AUDIT_TAIL_QUEUE`.
AUDIT_TAIL_RULE: Final = Defaults.AUDIT_TAIL_QUEUE
#: A second copy of the audit events, for ``kops-iam local``'s own report.
AUDIT_CONSOLE_QUEUE: Final = f"{Defaults.AUDIT_TAIL_QUEUE}-console"
#: The drift schedule's rule (named in the scheduled event's ``resources``).
DRIFT_RULE: Final = f"{Defaults.FUNCTION_NAME}-drift"

#: One invocation plus Lambda's two asynchronous retries, then the failure queue.
DELIVERY_ATTEMPTS: Final = 3
#: Seconds before a message whose invocation failed is delivered again.
RETRY_DELAY_SECONDS: Final = 1
#: The drift queue's visibility timeout on moto: a batch taken by a (played) worker stays
#: hidden while it runs; the player makes failed checks visible again at once.
DRIFT_VISIBILITY_SECONDS: Final = 30
