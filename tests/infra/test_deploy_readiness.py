"""Deploy readiness: rules AWS documents that moto, synth, cdk-nag and cfn-lint cannot see.

Each test encodes one rule as AWS (or CloudFormation) states it, cited next to it, and walks
the synthesized template (both bucket modes) for every place the rule applies, rather than
checking one known resource. A new resource breaking a rule fails here before it fails a
real deploy. docs/adr/0078 explains the approach; docs/deploy.md the first real deploy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infra_support import Synthesized

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "deploy.md"
OTHER_ACCOUNT = "444455556666"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# --- 1. A failed first deploy must not block its retry ------------------------------------


def test_nothing_is_kept_when_the_create_that_made_it_rolls_back(deployment: Synthesized) -> None:
    # Rule: "Retain" also keeps a resource when the stack operation that created it rolls
    # back; a kept fixed name then makes every retry fail (AlreadyExists), a kept generated
    # name is an orphan. "RetainExceptOnCreate behaves like Retain for stack operations,
    # except for the stack operation that initially created the resource. If the stack
    # operation that created the resource is rolled back, CloudFormation deletes the
    # resource." https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-deletionpolicy.html
    # (CDK: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, https://docs.aws.amazon.com/cdk/api/v2/python/aws_cdk/CfnDeletionPolicy.html)
    retained_on_create = {
        logical_id: resource["Type"]
        for logical_id, resource in deployment.template["Resources"].items()
        if resource.get("DeletionPolicy") in ("Retain", "Snapshot")
    }
    assert retained_on_create == {}
    for resource in deployment.template["Resources"].values():
        if resource.get("DeletionPolicy") == "RetainExceptOnCreate":
            # Kept on replacement too, or an update could still lose what delete keeps.
            assert resource.get("UpdateReplacePolicy") == "Retain", resource["Type"]


#: Names AWS refuses for a while after the resource was deleted, so a rollback that deleted
#: it makes an immediate retry fail. SQS: "When you delete a queue, you must wait at least
#: 60 seconds before creating a queue with the same name."
#: https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html
#: (the error is QueueDeletedRecently,
#: https://docs.aws.amazon.com/botocore/latest/reference/services/sqs/client/exceptions/QueueDeletedRecently.html)
NAMES_HELD_AFTER_DELETE = {"AWS::SQS::Queue": "QueueName"}


def test_no_resource_takes_a_name_aws_holds_after_deleting_it(deployment: Synthesized) -> None:
    held = [
        (logical_id, resource["Type"])
        for logical_id, resource in deployment.template["Resources"].items()
        if NAMES_HELD_AFTER_DELETE.get(resource["Type"]) in resource.get("Properties", {})
    ]
    assert held == []
