"""A small AWS world on moto (in-process) for the reconciler's integration tests.

Helpers here; the fixtures are in ``conftest.py``.

One boto3 session, made after moto is imported, serves every test (its service models load
once); each test gets a fresh moto state through :func:`mock_aws`. The world has the specs
bucket (S3 notifications to a queue the tests read, and EventBridge notifications), the
audit bus with a rule copying every kops-iam event to a queue, and helpers to upload specs,
deliver the notifications moto produced to the handler, and read the audit trail.
"""

from __future__ import annotations

import io
import json
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import boto3
import moto
from botocore.awsrequest import AWSResponse
from spec_builders import cluster_json

from kops_iam.application import handler
from kops_iam.application.reconciler import Reconciler
from kops_iam.application.settings import Defaults, Settings
from kops_iam.aws.audit import audit_event_pattern
from kops_iam.aws.events import s3_spec_event_pattern

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "events" / "specs"
REGION = "us-east-1"
ACCOUNT = "123456789012"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{Defaults.FUNCTION_NAME}"

SESSION = boto3.session.Session(region_name=REGION)

READ_PREFIXES = ("Get", "List", "Head", "Describe")


@dataclass
class FakeContext:
    """The parts of a Lambda context the handler and Powertools read."""

    function_name: str = Defaults.FUNCTION_NAME
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = FUNCTION_ARN
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    remaining_ms: int = 300_000

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


class CallLog:
    """Counts the AWS calls a client makes (botocore ``before-call`` hook)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def attach(self, client: Any) -> Any:
        service = client.meta.service_model.service_name
        client.meta.events.register(
            f"before-call.{client.meta.service_model.service_id.hyphenize()}",
            lambda model, **_: self.calls.append(f"{service}:{model.name}"),
        )
        return client

    def count(self, prefix: str = "") -> int:
        return sum(1 for c in self.calls if c.startswith(prefix))

    def writes(self, service: str = "iam") -> list[str]:
        return [
            c
            for c in self.calls
            if c.startswith(f"{service}:") and not c.split(":", 1)[1].startswith(READ_PREFIXES)
        ]

    def reads(self, service: str = "iam") -> list[str]:
        return [
            c
            for c in self.calls
            if c.startswith(f"{service}:") and c.split(":", 1)[1].startswith(READ_PREFIXES)
        ]

    def by_operation(self) -> Counter[str]:
        return Counter(self.calls)

    def clear(self) -> None:
        self.calls.clear()


class _Raw(io.BytesIO):
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.getvalue()


def error_response(status: int, code: str, message: str = "injected") -> AWSResponse:
    """An AWS query-protocol error response (IAM's wire format)."""
    body = (
        f"<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>"
        f"<Message>{message}</Message></Error><RequestId>injected</RequestId></ErrorResponse>"
    ).encode()
    return AWSResponse("https://injected", status, {}, _Raw(body))


class Faults:
    """Makes chosen operations of one client fail: ``faults.fail("PutRolePolicy", times=2)``.

    A ``before-send.<service>.<Operation>`` hook answers in place of moto (more specific
    than moto's own ``before-send`` hook, so it runs first), as a real endpoint would.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._service = client.meta.service_model.service_id.hyphenize()
        self.remaining: dict[str, int] = {}
        self.injected: Counter[str] = Counter()

    def fail(
        self, operation: str, times: int = 1, status: int = 400, code: str = "Throttling"
    ) -> None:
        self.remaining[operation] = times

        def hook(request: Any, **_: Any) -> AWSResponse | None:
            if self.remaining.get(operation, 0) <= 0:
                return None
            self.remaining[operation] -= 1
            self.injected[operation] += 1
            # moto's own before-send hook runs after this one (less specific) and would still
            # process the request: point it elsewhere so that the fault is all that happens.
            request.url = "https://fault-injected.invalid/"
            return error_response(status, code)

        self._client.meta.events.register(f"before-send.{self._service}.{operation}", hook)


@dataclass
class World:
    """The moto AWS world of one test."""

    s3: Any
    iam: Any
    events: Any
    sqs: Any
    kms: Any
    bucket: str
    bus: str
    audit_queue: str
    spec_queue: str
    eventbridge_queue: str
    settings: Settings
    calls: CallLog

    # -- specs -------------------------------------------------------------------------

    def key(self, cluster: str) -> str:
        return f"{cluster}/config"

    def upload(self, cluster: str, body: bytes | str) -> dict[str, Any]:
        data = body.encode() if isinstance(body, str) else body
        response: dict[str, Any] = self.s3.put_object(
            Bucket=self.bucket, Key=self.key(cluster), Body=data
        )
        return response

    def delete(self, cluster: str) -> None:
        self.s3.delete_object(Bucket=self.bucket, Key=self.key(cluster))

    # -- reconcilers and handler -------------------------------------------------------

    def with_settings(self, **changes: Any) -> Settings:
        return replace(self.settings, **changes)

    def reconciler(self, settings: Settings | None = None, **clients: Any) -> Reconciler:
        kwargs: dict[str, Any] = {
            "iam": self.iam,
            "s3": self.s3,
            "events": self.events,
            "kms": self.kms,
            "sleep": lambda _s: None,
        }
        kwargs.update(clients)
        return Reconciler(settings or self.settings, **kwargs)

    def runtime(self, settings: Settings | None = None, **clients: Any) -> handler.Runtime:
        from aws_lambda_powertools import Tracer

        reconciler = self.reconciler(settings, **clients)
        return handler.Runtime(settings=reconciler.settings, reconciler=reconciler, tracer=Tracer())

    def handle(
        self, event: dict[str, Any], runtime: handler.Runtime | None = None
    ) -> dict[str, Any]:
        return handler.handle(event, FakeContext(), runtime or self.runtime())

    # -- what moto delivered -----------------------------------------------------------

    def _drain(self, queue: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get(
                "Messages", []
            )
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])

    def notifications(self) -> list[dict[str, Any]]:
        """S3 event notifications moto sent (test events dropped)."""
        return [n for n in self._drain(self.spec_queue) if "Records" in n]

    def eventbridge_notifications(self) -> list[dict[str, Any]]:
        """S3 events moto delivered through EventBridge (Object Created/Deleted only)."""
        return [
            e
            for e in self._drain(self.eventbridge_queue)
            if e.get("detail-type") in ("Object Created", "Object Deleted")
        ]

    def deliver(self, runtime: handler.Runtime | None = None) -> list[dict[str, Any]]:
        """Hand every pending S3 notification to the handler, in order."""
        return [self.handle(n, runtime) for n in self.notifications()]

    def audit(self) -> list[dict[str, Any]]:
        """Audit events received on the audit bus (through the rule and queue)."""
        return self._drain(self.audit_queue)

    # -- IAM state ---------------------------------------------------------------------

    def managed_policy(self, name: str) -> str:
        """Create a customer managed policy; return its ARN."""
        document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}],
        }
        arn: str = self.iam.create_policy(PolicyName=name, PolicyDocument=json.dumps(document))[
            "Policy"
        ]["Arn"]
        return arn

    def staging_policies(self) -> None:
        """The boundary and external policy ``bastion-all-roles.yaml`` names."""
        self.managed_policy("kops-boundary")
        self.managed_policy("staging-node-extras")

    def staging_settings(self) -> Settings:
        """Settings of an operator who approved what ``bastion-all-roles.yaml`` asks for:
        its bastion may start SSM sessions (an escalation action, docs/adr/0062)."""
        options = replace(self.settings.options, allowed_actions=frozenset({"ssm:StartSession"}))
        return self.with_settings(options=options)

    def role_names(self) -> set[str]:
        return {r["RoleName"] for r in self.iam.list_roles()["Roles"]}

    def inline(self, role: str) -> dict[str, Any]:
        names = self.iam.list_role_policies(RoleName=role)["PolicyNames"]
        return {
            n: self.iam.get_role_policy(RoleName=role, PolicyName=n)["PolicyDocument"]
            for n in names
        }

    def tags(self, role: str) -> dict[str, str]:
        return {
            t["Key"]: t["Value"] for t in self.iam.get_role(RoleName=role)["Role"].get("Tags", [])
        }

    def snapshot(self) -> dict[str, Any]:
        """Everything IAM holds that the reconciler manages (to prove nothing changed)."""
        state: dict[str, Any] = {}
        for role in sorted(self.role_names()):
            data = self.iam.get_role(RoleName=role)["Role"]
            state[role] = {
                "trust": data["AssumeRolePolicyDocument"],
                "tags": self.tags(role),
                "boundary": data.get("PermissionsBoundary"),
                "inline": self.inline(role),
                "managed": sorted(
                    p["PolicyArn"]
                    for p in self.iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]
                ),
            }
        for profile in self.iam.list_instance_profiles()["InstanceProfiles"]:
            state[f"profile:{profile['InstanceProfileName']}"] = [
                r["RoleName"] for r in profile["Roles"]
            ]
        return state


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def make_world() -> Iterator[World]:
    """Given the deployed wiring on moto: bucket, notifications, audit bus, rule, queues."""
    with moto.mock_aws():
        calls = CallLog()
        clients = {name: SESSION.client(name) for name in ("s3", "iam", "events", "sqs", "kms")}
        calls.attach(clients["s3"])
        calls.attach(clients["iam"])
        calls.attach(clients["events"])
        calls.attach(clients["kms"])
        s3, events, sqs = clients["s3"], clients["events"], clients["sqs"]
        bucket, bus = Defaults.SPECS_BUCKET, Defaults.AUDIT_BUS_NAME
        s3.create_bucket(Bucket=bucket)
        spec_queue, spec_arn = _queue(sqs, "spec-events")
        eb_queue, eb_arn = _queue(sqs, "spec-eventbridge")
        audit_queue, audit_arn = _queue(sqs, Defaults.AUDIT_TAIL_QUEUE)
        s3.put_bucket_notification_configuration(
            Bucket=bucket,
            NotificationConfiguration={
                "QueueConfigurations": [
                    {
                        "QueueArn": spec_arn,
                        "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                        "Filter": {
                            "Key": {"FilterRules": [{"Name": "suffix", "Value": "/config"}]}
                        },
                    }
                ],
                "EventBridgeConfiguration": {},
            },
        )
        events.put_rule(Name="specs", EventPattern=json.dumps(s3_spec_event_pattern(bucket)))
        events.put_targets(Rule="specs", Targets=[{"Id": "q", "Arn": eb_arn}])
        events.create_event_bus(Name=bus)
        events.put_rule(
            Name="audit", EventBusName=bus, EventPattern=json.dumps(audit_event_pattern())
        )
        events.put_targets(Rule="audit", EventBusName=bus, Targets=[{"Id": "q", "Arn": audit_arn}])
        settings = Settings(bucket=bucket, bus_name=bus).with_account(ACCOUNT)
        world = World(
            bucket=bucket,
            bus=bus,
            audit_queue=audit_queue,
            spec_queue=spec_queue,
            eventbridge_queue=eb_queue,
            settings=settings,
            calls=calls,
            **clients,
        )
        world.notifications()  # drop moto's s3:TestEvent
        calls.clear()
        yield world


def spec_text(name: str) -> str:
    return (SPECS / name).read_text()


def spec(
    cluster: str = "c1.k8s.example.com",
    *,
    additional: dict[str, list[dict[str, Any]]] | None = None,
    external: dict[str, list[str]] | None = None,
    labels: dict[str, str] | None = None,
    boundary: str | None = None,
    bastion: bool = False,
    kms_key: str | None = None,
) -> str:
    """A valid spec (JSON, which is YAML too) with the given extras."""
    body: dict[str, Any] = {}
    if additional:
        body["additionalPolicies"] = {role: json.dumps(stmts) for role, stmts in additional.items()}
    if external:
        body["externalPolicies"] = external
    if labels:
        body["cloudLabels"] = labels
    if boundary:
        body["iam"] = {"permissionsBoundary": boundary}
    if bastion:
        body["topology"] = {"masters": "private", "nodes": "private", "bastion": {}}
    if kms_key:
        body["etcdClusters"] = [
            {
                "name": "main",
                "etcdMembers": [{"name": "a", "encryptedVolume": True, "kmsKeyId": kms_key}],
            }
        ]
    return cluster_json(cluster, **body)


def allow(*actions: str, resource: str = "*", sid: str | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": list(actions), "Resource": [resource]}
    if sid:
        statement["Sid"] = sid
    return statement
