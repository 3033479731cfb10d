"""``kops-iam redrive``: the failure queue's messages go back to the function (ADR 72)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import moto
import pytest
from botocore.stub import ANY, Stubber

from kops_iam_tools.cli import main
from kops_iam_tools.commands import redrive as command
from kops_iam_tools.commands.redrive import describe, redrive
from kops_iam_tools.world.events import dead_letter, on_failure_record

REGION = "us-east-1"
SESSION = boto3.session.Session(region_name=REGION)
NOTIFICATION = {
    "Records": [
        {
            "eventSource": "aws:s3",
            "eventName": "ObjectCreated:Put",
            "s3": {"bucket": {"name": "specs"}, "object": {"key": "c1.k8s.example.com/config"}},
        }
    ]
}
SCHEDULED = {
    "version": "0",
    "id": "1",
    "detail-type": "Scheduled Event",
    "source": "aws.events",
    "account": "123456789012",
    "time": "2026-01-15T12:00:00Z",
    "region": REGION,
    "resources": [],
    "detail": {},
}


@pytest.fixture
def sqs() -> Iterator[Any]:
    with moto.mock_aws():
        yield SESSION.client("sqs")


def fill(sqs: Any) -> str:
    """A failure queue holding both shapes, twice redriven record, and two it cannot take."""
    url: str = sqs.create_queue(QueueName="failed")["QueueUrl"]
    letter = dead_letter(SCHEDULED, error_code="NO_PERMISSIONS")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(NOTIFICATION)))
    sqs.send_message(
        QueueUrl=url, MessageBody=letter["Body"], MessageAttributes=letter["MessageAttributes"]
    )
    twice = on_failure_record(on_failure_record(NOTIFICATION))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(twice))
    sqs.send_message(QueueUrl=url, MessageBody="not json")
    other = on_failure_record({"detail-type": "Other", "source": "aws.ec2"})
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(other))
    return url


def left_in(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_each_message_is_invoked_as_its_original_event_then_deleted(sqs: Any) -> None:
    # Given the failure queue with records, a dead letter and two messages it cannot take
    url = fill(sqs)
    invoked: list[Mapping[str, Any]] = []

    # When it is redriven
    report = redrive(sqs, url, invoked.append)

    # Then the function got each original event (never a record around a record)
    assert sorted(json.dumps(e, sort_keys=True) for e in invoked) == sorted(
        json.dumps(e, sort_keys=True) for e in (NOTIFICATION, SCHEDULED, NOTIFICATION)
    )
    assert sorted(m.shape for m in report.redriven) == [
        "dead letter",
        "on-failure record",
        "on-failure record",
    ]
    assert {m.work for m in report.redriven} == {
        "s3://specs/c1.k8s.example.com/config",
        "drift run",
    }
    # And only what it could not redrive is left, visible again at once
    assert len(report.left) == 2
    assert left_in(sqs, url) == 2
    assert len(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]) == 2


def test_a_failed_invoke_leaves_the_message_in_the_queue(sqs: Any) -> None:
    url: str = sqs.create_queue(QueueName="failed")["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(on_failure_record(NOTIFICATION)))

    def refuse(event: Mapping[str, Any]) -> None:
        raise RuntimeError("TooManyRequestsException")

    report = redrive(sqs, url, refuse)
    [item] = report.left
    assert item.error == "invoke failed: TooManyRequestsException"
    assert left_in(sqs, url) == 1


def test_dry_run_and_max_change_nothing_beyond_what_they_say(sqs: Any) -> None:
    url = fill(sqs)
    invoked: list[Mapping[str, Any]] = []

    listed = redrive(sqs, url, invoked.append, dry_run=True)
    assert invoked == [] and len(listed.messages) == 5 and left_in(sqs, url) == 5

    some = redrive(sqs, url, invoked.append, limit=1)
    assert len(some.messages) == 1
    assert left_in(sqs, url) == 5 - len(some.redriven)


def test_describe_says_why_each_message_failed() -> None:
    record = {"Body": json.dumps(on_failure_record(NOTIFICATION, condition="EventAgeExceeded"))}
    assert describe(record)[0] == "on-failure record"
    assert describe(record)[3] == "EventAgeExceeded after 3 attempt(s)"
    letter = dead_letter(SCHEDULED, rule_arn="arn:aws:events:us-east-1:1:rule/Drift")
    assert describe(letter)[2:] == ("drift run", "ERROR_FROM_TARGET from rule Drift")
    assert describe({"Body": "[]"})[1] is None


def test_the_command_reads_the_queue_from_the_stack_and_invokes_asynchronously(
    sqs: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the stack's output naming the queue, and Lambda accepting two async invokes
    url = fill(sqs)
    cloudformation = SESSION.client("cloudformation")
    lambda_client = SESSION.client("lambda")
    with Stubber(cloudformation) as cfn_stub, Stubber(lambda_client) as lambda_stub:
        cfn_stub.add_response(
            "describe_stacks",
            {
                "Stacks": [
                    {
                        "StackName": "KopsIam",
                        "CreationTime": "2026-01-15T12:00:00Z",
                        "StackStatus": "CREATE_COMPLETE",
                        "Outputs": [{"OutputKey": "FailureQueueUrl", "OutputValue": url}],
                    }
                ]
            },
            {"StackName": "KopsIam"},
        )
        for _ in range(3):
            lambda_stub.add_response(
                "invoke",
                {"StatusCode": 202},
                {
                    "FunctionName": "kops-iam-reconciler",
                    "InvocationType": "Event",
                    "Payload": ANY,
                },
            )
        monkeypatch.setattr(command, "clients", lambda args: (sqs, lambda_client, cloudformation))

        # When the operator runs kops-iam redrive
        code = main(["redrive"])

    # Then it says what it did, and exits 1: two messages are left for a human
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    assert code == 1, captured.err
    assert sum(line.startswith("redriven ") for line in out) == 3
    assert sum(line.startswith("left ") for line in out) == 2
    assert out[-1] == f"3 redriven, 2 left in the queue ({url})"


def test_the_command_prints_one_json_document(
    sqs: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the queue named directly, and a dry run (so neither Lambda nor the stack is asked)
    url = fill(sqs)
    monkeypatch.setattr(command, "clients", lambda args: (sqs, None, None))

    # When it runs with --json
    code = main(["redrive", "--queue-url", url, "--dry-run", "--json"])

    # Then stdout is one JSON document saying what each message would do
    result = json.loads(capsys.readouterr().out)
    assert code == 1
    assert result["queueUrl"] == url and result["dryRun"] is True
    assert [m["redriven"] for m in result["messages"]].count(True) == 3
    assert {m["shape"] for m in result["messages"]} == {
        "on-failure record",
        "dead letter",
        "unknown",
    }
    assert left_in(sqs, url) == 5


def test_the_command_refuses_a_bad_max(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["redrive", "--queue-url", "x", "--max", "0"]) == 2
    assert "--max must be at least 1" in capsys.readouterr().err


def test_an_aws_error_with_json_is_still_one_document(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given clients that cannot be made (no region, say)
    def broken(args: Any) -> Any:
        raise RuntimeError("no way to AWS")

    monkeypatch.setattr(command, "clients", broken)
    # When redrive runs with --json, Then stdout is one document saying so, stderr is empty
    assert main(["redrive", "--queue-url", "x", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out) == {"status": "error", "error": "RuntimeError: no way to AWS"}
    assert err == ""
    # And without --json, the message goes to stderr
    assert main(["redrive", "--queue-url", "x"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "no way to AWS" in err
