"""``kops-iam redrive``: put what the failure queue holds back to the function.

The failure queue holds Lambda's on-failure records (the original event as
``requestPayload``) and EventBridge dead letters (the event itself), ADR 72. For each message
this command finds the original event (:func:`kops_iam.aws.events.original_event`), checks
that the function accepts it, invokes the function asynchronously with it (as S3 or
EventBridge did) and, once Lambda has accepted the invocation, deletes the message. A
redriven event that fails again comes back as a new record, through the usual retries.
Messages it cannot redrive (not JSON, not an event the function accepts) stay in the queue
and make the exit code 1. Every reconcile reads the current spec, so redriving an old or
repeated event is always safe.

The queue is ``--queue-url``, or the ``FailureQueueUrl`` output of the stack (``--stack``,
default ``KopsIam``). Exit codes: 0 every message redriven (or none), 1 some left in the
queue or an AWS error, 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TextIO

from kops_iam.application.settings import Defaults
from kops_iam_tools.commands import findings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import ChangeMessageVisibilityBatchRequestEntryTypeDef

#: The stack (``infra.stack.STACK_NAME``) and its output naming the failure queue.
DEFAULT_STACK: Final = "KopsIam"
QUEUE_OUTPUT: Final = "FailureQueueUrl"
#: How long a message received here stays hidden from other readers while it is redriven.
VISIBILITY_SECONDS: Final = 120

Invoke = Callable[[Mapping[str, Any]], None]


@dataclass(frozen=True)
class Redriven:
    """One message taken from the queue: what it was, what it asked for, what happened."""

    message_id: str
    shape: str  # "on-failure record" | "dead letter" | "unknown"
    work: str  # e.g. "s3://bucket/c1/config" or "drift run"
    reason: str  # why it failed (the record's condition, the dead letter's error code)
    error: str | None = None  # set when it was left in the queue

    def as_json(self) -> dict[str, Any]:
        return {
            "messageId": self.message_id,
            "shape": self.shape,
            "work": self.work,
            "reason": self.reason,
            "redriven": self.error is None,
            **({"error": self.error} if self.error else {}),
        }


@dataclass
class Report:
    """Every message seen, in order."""

    messages: list[Redriven] = field(default_factory=list)

    @property
    def redriven(self) -> list[Redriven]:
        return [m for m in self.messages if m.error is None]

    @property
    def left(self) -> list[Redriven]:
        return [m for m in self.messages if m.error is not None]


def _attribute(message: Mapping[str, Any], name: str) -> str | None:
    value = message.get("MessageAttributes", {}).get(name, {})
    return value.get("StringValue") if isinstance(value, Mapping) else None


def describe(message: Mapping[str, Any]) -> tuple[str, Mapping[str, Any] | None, str, str]:
    """(shape, original event or ``None``, work, reason) of one received message."""
    from kops_iam.aws.events import UnsupportedEvent, original_event, parse_event

    try:
        body = json.loads(message.get("Body", ""))
    except ValueError:
        return "unknown", None, "-", "the body is not JSON"
    if not isinstance(body, Mapping):
        return "unknown", None, "-", "the body is not a JSON object"
    if {"requestContext", "requestPayload"} <= body.keys():
        shape = "on-failure record"
        context = body.get("requestContext") or {}
        attempts = context.get("approximateInvokeCount", "?")
        reason = f"{context.get('condition', '?')} after {attempts} attempt(s)"
    elif _attribute(message, "RULE_ARN") or _attribute(message, "ERROR_CODE"):
        shape = "dead letter"
        rule = (_attribute(message, "RULE_ARN") or "").rsplit("/", 1)[-1]
        reason = f"{_attribute(message, 'ERROR_CODE') or '?'} from rule {rule or '?'}"
    else:
        shape, reason = "unknown", "neither an on-failure record nor a dead letter"
    try:
        event = original_event(body)
        parsed = parse_event(event)
    except UnsupportedEvent as exc:
        return shape, None, "-", f"{reason}; not an event the function takes: {exc}"
    work = [f"s3://{o.bucket}/{o.key}" for o in parsed.objects]
    if parsed.scheduled is not None:
        work.append("drift run")
    if not work:
        return shape, None, "-", f"{reason}; nothing to do in it ({', '.join(parsed.ignored)})"
    return shape, event, " ".join(work), reason


def redrive(
    sqs: SQSClient,
    queue_url: str,
    invoke: Invoke,
    *,
    limit: int | None = None,
    dry_run: bool = False,
    on_message: Callable[[Redriven], None] | None = None,
) -> Report:
    """Redrive the messages of ``queue_url`` through ``invoke`` (at most ``limit``).

    A message is deleted only after ``invoke`` returned (Lambda accepted the event). With
    ``dry_run`` nothing is invoked or deleted. Every message left in the queue is made
    visible again at the end.
    """
    report = Report()
    seen: set[str] = set()
    held: list[str] = []  # receipt handles of the messages left in the queue
    while limit is None or len(report.messages) < limit:
        batch = min(10, limit - len(report.messages)) if limit is not None else 10
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=batch,
            WaitTimeSeconds=1,
            VisibilityTimeout=VISIBILITY_SECONDS,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            item = _one(sqs, queue_url, message, invoke, dry_run)
            if dry_run or item.error is not None:
                held.append(message["ReceiptHandle"])
            report.messages.append(item)
            if on_message is not None:
                on_message(item)
    # What stays in the queue is visible again at once (for the next reader, or a retry).
    for start in range(0, len(held), 10):
        entries: list[ChangeMessageVisibilityBatchRequestEntryTypeDef] = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": 0}
            for index, handle in enumerate(held[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
    return report


def _one(
    sqs: SQSClient, queue_url: str, message: Mapping[str, Any], invoke: Invoke, dry_run: bool
) -> Redriven:
    shape, event, work, reason = describe(message)
    message_id = str(message["MessageId"])
    if event is None:
        return Redriven(message_id, shape, work, reason, error="left in the queue: " + reason)
    if dry_run:
        return Redriven(message_id, shape, work, reason)
    try:
        invoke(event)
    except Exception as exc:  # noqa: BLE001 - reported per message; the message stays
        return Redriven(message_id, shape, work, reason, error=f"invoke failed: {exc}")
    sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    return Redriven(message_id, shape, work, reason)


# --------------------------------------------------------------------------- the command


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Arguments of ``redrive``."""
    del name
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--queue-url", metavar="URL", help="the failure queue")
    where.add_argument(
        "--stack",
        default=DEFAULT_STACK,
        help=f"read the queue from this stack's {QUEUE_OUTPUT} output (default: %(default)s)",
    )
    parser.add_argument(
        "--function",
        default=Defaults.FUNCTION_NAME,
        help="function to invoke (default: %(default)s)",
    )
    parser.add_argument("--max", type=int, metavar="N", help="redrive at most N messages")
    parser.add_argument(
        "--dry-run", action="store_true", help="list what would be redriven; change nothing"
    )
    parser.add_argument("--endpoint-url", metavar="URL", help="AWS endpoint (e.g. an emulator)")
    parser.add_argument("--region", help="AWS region (default: the AWS config)")
    parser.add_argument("--profile", help="AWS named profile")
    parser.add_argument("--json", action="store_true", help="print one JSON document")


def run(args: argparse.Namespace) -> int:
    """Run ``redrive``; print one line per message; return the exit code."""
    from kops_iam_tools.commands.live import _explain

    if args.max is not None and args.max < 1:
        print("kops-iam redrive: --max must be at least 1", file=sys.stderr)
        return 2
    try:
        return _run(args, sys.stdout)
    except Exception as exc:  # noqa: BLE001 - the CLI contract: a message, never a traceback
        if args.json:  # --json: one document on stdout, whatever happens (docs/cli.md)
            findings.dump({"status": "error", "error": _explain(exc)})
        else:
            print(f"kops-iam redrive: {_explain(exc)}", file=sys.stderr)
        return findings.FAILED


def clients(args: argparse.Namespace) -> tuple[Any, Any, Any]:
    """SQS, Lambda and CloudFormation clients from the arguments (tests replace this)."""
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    endpoint = args.endpoint_url
    return (
        session.client("sqs", endpoint_url=endpoint),
        session.client("lambda", endpoint_url=endpoint),
        session.client("cloudformation", endpoint_url=endpoint),
    )


def queue_url_of_stack(cloudformation: Any, stack: str) -> str:
    """The stack's ``FailureQueueUrl`` output.

    Raises
    ------
    LookupError
        The stack has no such output.
    """
    [description] = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    for output in description.get("Outputs", []):
        if output.get("OutputKey") == QUEUE_OUTPUT:
            return str(output["OutputValue"])
    raise LookupError(f"stack {stack} has no {QUEUE_OUTPUT} output (pass --queue-url)")


def lambda_invoker(lambda_client: Any, function: str) -> Invoke:
    """Invoke ``function`` asynchronously, as S3 and EventBridge do (202 = accepted)."""

    def invoke(event: Mapping[str, Any]) -> None:
        response = lambda_client.invoke(
            FunctionName=function, InvocationType="Event", Payload=json.dumps(event).encode()
        )
        if response.get("StatusCode") != 202:
            raise RuntimeError(f"Lambda answered {response.get('StatusCode')}")

    return invoke


def _run(args: argparse.Namespace, out: TextIO) -> int:
    sqs, lambda_client, cloudformation = clients(args)
    queue_url = args.queue_url or queue_url_of_stack(cloudformation, args.stack)

    def show(item: Redriven) -> None:
        if args.json:
            return
        verb = "would redrive" if args.dry_run else "redriven"
        status, why = (verb, item.reason) if item.error is None else ("left", item.error)
        print(f"{status:<13} {item.shape:<17} {item.work}  ({why})", file=out)

    report = redrive(
        sqs,
        queue_url,
        lambda_invoker(lambda_client, args.function),
        limit=args.max,
        dry_run=args.dry_run,
        on_message=show,
    )
    if args.json:
        json.dump(
            {
                "queueUrl": queue_url,
                "function": args.function,
                "dryRun": args.dry_run,
                "messages": [m.as_json() for m in report.messages],
            },
            out,
            indent=2,
        )
        out.write("\n")
    else:
        done = "would be redriven" if args.dry_run else "redriven"
        print(
            f"{len(report.redriven)} {done}, {len(report.left)} left in the queue ({queue_url})",
            file=out,
        )
    return 1 if report.left else 0
