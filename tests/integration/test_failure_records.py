"""What the failure queue holds is work the handler can do again (docs/adr/0072)."""

from __future__ import annotations

import json

from spec_builders import spec
from support.world import World

from kops_iam.aws.audit import DetailType
from kops_iam_tools.world.events import dead_letter, on_failure_record, queue_message, sqs_event_of

CLUSTER = "redrive.k8s.example.com"


def test_an_on_failure_record_reconciles_its_spec_when_handled(world: World) -> None:
    # Given a spec whose S3 notification failed three times and is now an on-failure record
    world.upload(CLUSTER, spec(CLUSTER))
    [notification] = world.notifications()
    record = on_failure_record(notification)

    # When the record is handed back to the handler (kops-iam redrive)
    summary = world.handle(record)

    # Then the spec is applied as if the notification had come now
    assert [o["detailType"] for o in summary["outcomes"]] == [DetailType.SPEC_APPLIED]
    assert world.role_names() == {f"masters.{CLUSTER}", f"nodes.{CLUSTER}"}
    [event] = world.audit()
    assert event["detail"]["trigger"] == "s3"


def test_a_dead_lettered_drift_run_from_the_queue_runs_again(world: World) -> None:
    # Given a spec applied, then a role's policy changed by hand
    world.upload(CLUSTER, spec(CLUSTER))
    world.deliver()
    world.audit()
    world.inspect_iam.put_role_policy(
        RoleName=f"nodes.{CLUSTER}",
        PolicyName=f"nodes.{CLUSTER}",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "s3:DeleteBucket", "Resource": "*"}],
            }
        ),
    )
    # And the drift schedule's event that EventBridge could not deliver, in its DLQ
    scheduled = {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-15T12:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/KopsIam-DriftSchedule"],
        "detail": {},
    }

    # When an SQS event carrying the dead letter and an on-failure record reaches the handler
    summary = world.handle(
        sqs_event_of(dead_letter(scheduled), queue_message(on_failure_record(scheduled)))
    )

    # Then the drift run was started (once: the two wrappers name the same full run)
    assert summary["drift"]["queued"] == 1
    # And when the drift queue hands its check to the function, the drift is corrected
    checks = world.drift_checks()
    outcomes = [o for c in checks for o in (c.summary or {}).get("outcomes", [])]
    assert [o["detailType"] for o in outcomes] == [DetailType.DRIFT_CORRECTED]
    [event] = [e for c in checks for e in c.audit]
    assert event["detail"]["trigger"] == "schedule"
