"""The AWS world on moto, built from the stack's names: one for every use.

The emulator behind ``kops-iam local``/``demo`` (moto's server over HTTP), the test worlds
(``tests/support``, in-process ``mock_aws``) and the benchmarks all build on it:

* :mod:`~kops_iam_tools.world.names`: the stack's resource names and the stand-ins;
* :mod:`~kops_iam_tools.world.provision`: the stack's resources, created once;
* :mod:`~kops_iam_tools.world.events`: the events the function receives;
* :mod:`~kops_iam_tools.world.function`: the function's configuration, environment and
  Lambda context;
* :mod:`~kops_iam_tools.world.moto_quirks`: where moto differs from AWS, worked around once.

Import-light: moto and boto3 load inside the functions that need them.
"""

from kops_iam_tools.world.events import (
    dead_letter,
    object_event,
    on_failure_record,
    queue_message,
    s3_notification,
    s3_record,
    scheduled_event,
    sqs_event,
    sqs_event_of,
)
from kops_iam_tools.world.function import (
    FunctionConfig,
    LambdaContext,
    function_arn,
    function_environment,
    session_from_environment,
)
from kops_iam_tools.world.names import ACCOUNT, DELIVERIES, REGION, Delivery
from kops_iam_tools.world.provision import Queue, Resources, drain, provision

__all__ = [
    "ACCOUNT",
    "DELIVERIES",
    "REGION",
    "Delivery",
    "FunctionConfig",
    "LambdaContext",
    "Queue",
    "Resources",
    "dead_letter",
    "drain",
    "function_arn",
    "function_environment",
    "object_event",
    "on_failure_record",
    "provision",
    "queue_message",
    "s3_notification",
    "s3_record",
    "scheduled_event",
    "session_from_environment",
    "sqs_event",
    "sqs_event_of",
]
