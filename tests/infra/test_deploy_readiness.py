"""Deploy readiness: rules AWS documents that moto, synth, cdk-nag and cfn-lint cannot see.

Each test encodes one rule as AWS (or CloudFormation) states it, cited next to it, and walks
the synthesized template (both bucket modes) for every place the rule applies, rather than
checking one known resource. A new resource breaking a rule fails here before it fails a
real deploy. docs/adr/0078 explains the approach; docs/deploy.md the first real deploy.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from infra_support import Synthesized
from readiness_support import (
    CHINA,
    COMMERCIAL,
    Environment,
    Resolved,
    identity_may,
    service_may,
    strings,
)

from kops_iam.application.settings import Env
from kops_iam.aws.events import ParsedEvent, parse_event
from kops_iam.domain.naming import MANAGED_PATH
from kops_iam_tools.world.events import dead_letter, on_failure_record, queue_message, sqs_event_of

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "deploy.md"
OTHER_ACCOUNT = "444455556666"


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _function_id(resolved: Resolved) -> str:
    [function_id] = [
        i
        for i, r in resolved.of_type("AWS::Lambda::Function").items()
        if r["Properties"].get("FunctionName") == "kops-iam-reconciler"
    ]
    return function_id


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


# --- 2. Alarm notifications arrive ----------------------------------------------------------


def _alarm_routes(resolved: Resolved) -> list[tuple[str, str, str]]:
    """(alarm ARN, topic logical id, alarm logical id) for every alarm action on a topic."""
    routes = []
    for alarm_id, alarm in resolved.of_type("AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        for action in [*props.get("AlarmActions", []), *props.get("OKActions", [])]:
            topic_id = resolved.logical_id_of(action)
            assert resolved.resources[topic_id]["Type"] == "AWS::SNS::Topic", action
            routes.append((resolved.arn(alarm_id), topic_id, alarm_id))
    return routes


def _topic_statements(resolved: Resolved, topic_id: str) -> list[Mapping[str, Any]]:
    statements: list[Mapping[str, Any]] = []
    for policy in resolved.of_type("AWS::SNS::TopicPolicy").values():
        if {"Ref": topic_id} in policy["Properties"]["Topics"]:
            statements += _list(
                resolved.resolve(policy["Properties"]["PolicyDocument"])["Statement"]
            )
    return statements


def _cloudwatch_context(alarm_arn: str, account: str) -> dict[str, str]:
    # What CloudWatch's request carries: the alarm as aws:SourceArn, its account as
    # aws:SourceAccount, over TLS.
    return {"aws:SourceArn": alarm_arn, "aws:SourceAccount": account, "aws:SecureTransport": "true"}


def _foreign_alarm(alarm_arn: str) -> str:
    parts = alarm_arn.split(":")
    parts[4] = OTHER_ACCOUNT
    return ":".join(parts)


@pytest.mark.parametrize("env", [COMMERCIAL, CHINA], ids=["aws", "aws-cn"])
def test_every_alarm_action_topic_lets_cloudwatch_publish_for_that_alarm_only(
    deployment: Synthesized, env: Environment
) -> None:
    # Rule: a topic policy replaces SNS's default policy (which let the account publish);
    # CloudWatch then needs "Principal": {"Service": "cloudwatch.amazonaws.com"}, "Action":
    # "sns:Publish", narrowed to the alarms with "ArnLike" "aws:SourceArn".
    # https://repost.aws/knowledge-center/cloudwatch-receive-sns-for-alarm-trigger
    # Confused deputy: "aws:SourceArn" and "aws:SourceAccount" keep other accounts' alarms out,
    # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html
    resolved = Resolved(deployment.template, env)
    routes = _alarm_routes(resolved)
    assert routes, "the stack has alarms"
    for alarm_arn, topic_id, alarm_id in routes:
        statements = _topic_statements(resolved, topic_id)
        topic_arn = resolved.arn(topic_id)

        def may(arn: str, account: str, statements: list[Mapping[str, Any]] = statements) -> bool:
            return service_may(
                statements,
                service="cloudwatch.amazonaws.com",
                action="sns:Publish",
                resource=topic_arn,  # noqa: B023 - read in this iteration only
                context=_cloudwatch_context(arn, account),
            )

        assert may(alarm_arn, env.account), f"{alarm_id} cannot publish to {topic_id}"
        assert not may(_foreign_alarm(alarm_arn), OTHER_ACCOUNT), "another account's alarm"


@pytest.mark.parametrize("env", [COMMERCIAL, CHINA], ids=["aws", "aws-cn"])
def test_every_alarm_topic_key_lets_cloudwatch_encrypt_for_that_alarm_only(
    deployment: Synthesized, env: Environment
) -> None:
    # Rule: an SSE-KMS topic needs a customer managed key whose policy lets
    # cloudwatch.amazonaws.com use kms:Decrypt and kms:GenerateDataKey* (the AWS managed
    # alias/aws/sns key cannot be used: "CloudWatch Alarms does not have authorization to
    # access the SNS topic encryption key").
    # https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns,
    # https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html#compatibility-with-aws-services
    # Scoped like the topic (confused deputy), as AWS's MDAA constructs do for CloudWatch:
    # https://aws.github.io/modern-data-architecture-accelerator/typedocs/functions/_aws-mdaa_cloudwatch-constructs.grantCloudWatchAlarmsTopicAccess.html
    resolved = Resolved(deployment.template, env)
    for alarm_arn, topic_id, alarm_id in _alarm_routes(resolved):
        master_key = resolved.resources[topic_id]["Properties"].get("KmsMasterKeyId")
        assert master_key is not None, f"{topic_id} is not encrypted"
        key_id = resolved.logical_id_of(master_key)  # a key of this stack, not alias/aws/sns
        key = resolved.resources[key_id]
        assert key["Type"] == "AWS::KMS::Key"
        statements = _list(resolved.resolve(key["Properties"]["KeyPolicy"])["Statement"])
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            for arn, account, expected in (
                (alarm_arn, env.account, True),
                (_foreign_alarm(alarm_arn), OTHER_ACCOUNT, False),
            ):
                allowed = service_may(
                    statements,
                    service="cloudwatch.amazonaws.com",
                    action=action,
                    resource=resolved.arn(key_id),
                    context=_cloudwatch_context(arn, account),
                )
                assert allowed is expected, (alarm_id, action, arn)


# --- 3. No empty identifiers ------------------------------------------------------------------

#: Property names that hold an identifier, ARN or name AWS looks up.
IDENTIFIER_PROPERTY = re.compile(r"(Id|ID|Identifier|Arn|ARN|Name|KeyId)$")


def _empty_identifiers(value: Any, path: str) -> list[str]:
    found = []
    if isinstance(value, dict):
        for key, item in value.items():
            if key in ("PolicyDocument", "KeyPolicy", "Variables", "Code"):
                continue  # documents and environment variables are not identifiers
            where = f"{path}.{key}"
            if item == "" and IDENTIFIER_PROPERTY.search(key):
                found.append(where)
            found += _empty_identifiers(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _empty_identifiers(item, f"{path}[{index}]")
    return found


def test_no_empty_string_where_aws_expects_an_identifier(deployment: Synthesized) -> None:
    # Rule: an identifier property is absent or names something; "" is neither. CDK writes
    # KmsKeyIdentifier: "" on keyless archives, which some regions refuse with
    # GeneralServiceException: https://github.com/aws/aws-cdk/issues/37847 (fix: PR #37865).
    # AWS::Events::Archive KmsKeyIdentifier: "The identifier of the AWS KMS customer managed
    # key for EventBridge to use, if you choose to use a customer managed key to encrypt this
    # archive." https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-events-archive.html
    found = []
    for logical_id, resource in deployment.template["Resources"].items():
        found += _empty_identifiers(resource.get("Properties", {}), logical_id)
    assert found == []


# --- 4. Service endpoint names follow the partition -----------------------------------------


@pytest.mark.parametrize("env", [COMMERCIAL, CHINA], ids=["aws", "aws-cn"])
def test_every_service_endpoint_name_uses_the_partition_url_suffix(
    deployment: Synthesized, env: Environment
) -> None:
    # Rule: endpoint names are <service>.<region>.<partition DNS suffix>: amazonaws.com, but
    # amazonaws.com.cn in the China regions; AWS::URLSuffix is that suffix.
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html#cfn-pseudo-param-urlsuffix
    # kms:ViaService takes the endpoint name ("ec2.us-west-2.amazonaws.com"):
    # https://docs.aws.amazon.com/kms/latest/developerguide/conditions-kms.html#conditions-kms-via-service
    # (Service *principals* are not endpoint names and keep .amazonaws.com: not checked here.)
    resolved = Resolved(deployment.template, env)
    endpoint = re.compile(rf"\b[a-z0-9-]+\.{re.escape(env.region)}\.(amazonaws\.com(?:\.cn)?)\b")
    found = {}
    for logical_id, resource in resolved.resources.items():
        for path, text in strings(resolved.resolve(resource.get("Properties", {}))):
            for match in endpoint.finditer(text):
                found[f"{logical_id}.{path}"] = match.group(0)
                assert match.group(1) == env.url_suffix, f"{logical_id}.{path}: {text}"
    via = [v for k, v in found.items() if "kms:ViaService" in k]
    if deployment.resources("AWS::S3::Bucket") == {}:  # existing SSE-KMS bucket: decrypt via S3
        assert via == [f"s3.{env.region}.{env.url_suffix}"]


# --- 5. CloudWatch Logs resource policies: a scarce account-level quota ---------------------


def test_the_stack_uses_one_account_level_logs_policy_slot_and_the_runbook_says_so(
    deployment: Synthesized,
) -> None:
    # Rule: "An account can have a maximum of 10 policies without resourceARN", per Region,
    # not adjustable; EventBridge needs one to write to a log group target.
    # https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutResourcePolicy.html
    # https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html
    # So the stack takes at most one slot, for EventBridge and its own audit group only, and
    # the deploy runbook names it and how to check for a free slot beforehand.
    resolved = Resolved(deployment.template)
    policies = resolved.of_type("AWS::Logs::ResourcePolicy")
    assert len(policies) <= 1
    runbook = RUNBOOK.read_text() if RUNBOOK.exists() else ""
    [audit_group] = [
        resolved.arn(i)
        for i, r in resolved.of_type("AWS::Logs::LogGroup").items()
        if r["Properties"].get("LogGroupName") == "/kops-iam/audit"
    ]
    for policy in policies.values():
        document = json.loads(resolved.resolve(policy["Properties"]["PolicyDocument"]))
        for statement in _list(document["Statement"]):
            assert statement["Principal"] == {"Service": "events.amazonaws.com"}
            assert _list(statement["Resource"]) == [audit_group]
        name = resolved.resolve(policy["Properties"]["PolicyName"])
        assert f"`{name}`" in runbook
    assert "aws logs describe-resource-policies" in runbook
    assert not [t for t in resolved.template["Resources"].values() if "Cloudwatch" in t["Type"]]


# --- 6. What lands in the failure queue can be handled again ---------------------------------


def _s3_notification(bucket: str, event_type: str) -> dict[str, Any]:
    sample = json.loads((ROOT / "events" / "s3" / "object-created.json").read_text())
    record = sample["Records"][0]
    record["eventName"] = event_type.removeprefix("s3:").replace("*", "Put")
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["object"]["key"] = "c1.k8s.example.com/config"
    return sample


def _eventbridge_event(pattern: Mapping[str, Any], detail_type: str) -> dict[str, Any]:
    sample = json.loads((ROOT / "events" / "eventbridge" / "object-created.json").read_text())
    sample["detail-type"] = detail_type
    sample["detail"]["bucket"]["name"] = pattern["detail"]["bucket"]["name"][0]
    sample["detail"]["object"]["key"] = "c1.k8s.example.com/config"
    return sample


def _invocations(resolved: Resolved) -> list[tuple[str, dict[str, Any], Any]]:
    """(source, event, dead-letter config) for every asynchronous invocation of the
    function the template wires up."""
    function_id = _function_id(resolved)
    found: list[tuple[str, dict[str, Any], Any]] = []
    for notifications in resolved.of_type("Custom::S3BucketNotifications").values():
        props = notifications["Properties"]
        bucket = resolved.resolve(props["BucketName"])
        for config in props["NotificationConfiguration"].get("LambdaFunctionConfigurations", []):
            if resolved.refers_to(config["LambdaFunctionArn"], function_id):
                for event_type in config["Events"]:
                    found.append((f"S3 {event_type}", _s3_notification(bucket, event_type), None))
    for rule_id, rule in resolved.of_type("AWS::Events::Rule").items():
        props = rule["Properties"]
        for target in props.get("Targets", []):
            if not resolved.refers_to(target["Arn"], function_id):
                continue
            dlq = target.get("DeadLetterConfig")
            if "ScheduleExpression" in props:
                scheduled = json.loads(
                    (ROOT / "events" / "eventbridge" / "scheduled.json").read_text()
                )
                found.append((rule_id, scheduled, dlq))
            else:
                pattern = resolved.resolve(props["EventPattern"])
                assert pattern["source"] == ["aws.s3"], f"{rule_id}: event shape not modelled"
                for detail_type in pattern["detail-type"]:
                    found.append((rule_id, _eventbridge_event(pattern, detail_type), dlq))
    return found


def _same_work(parsed: ParsedEvent, original: ParsedEvent) -> bool:
    return parsed.objects == original.objects and (parsed.scheduled is None) == (
        original.scheduled is None
    )


def test_every_async_destination_record_is_accepted_by_the_handler(
    deployment: Synthesized,
) -> None:
    # Rule: what AWS writes to a failure destination has AWS's shape, not the event's:
    # * Lambda's on-failure destination gets an invocation record, the event being its
    #   "requestPayload"; for SQS the record is the message body.
    #   https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html
    # * an EventBridge target's dead-letter queue gets the event as the body, with RULE_ARN,
    #   ERROR_CODE, ... message attributes.
    #   https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html
    # Redriving (kops-iam redrive, or an SQS event source on the queue) hands these to the
    # handler, which must find in them the work the original event asked for.
    resolved = Resolved(deployment.template)
    function_id = _function_id(resolved)
    [invoke_config] = [
        r["Properties"]
        for r in resolved.of_type("AWS::Lambda::EventInvokeConfig").values()
        if resolved.logical_id_of(r["Properties"]["FunctionName"]) == function_id
    ]
    on_failure = invoke_config["DestinationConfig"]["OnFailure"]["Destination"]
    invocations = _invocations(resolved)
    assert any(source.startswith("DriftSchedule") for source, _, _ in invocations)
    for source, event, dlq in invocations:
        original = parse_event(event)
        assert original.objects or original.scheduled, source
        destinations = [(on_failure, queue_message(on_failure_record(event)))]
        if dlq is not None:
            rule_arn = resolved.arn(source)
            destinations.append((dlq["Arn"], dead_letter(event, rule_arn=rule_arn)))
        for destination, message in destinations:
            queue_id = resolved.logical_id_of(destination)
            assert resolved.resources[queue_id]["Type"] == "AWS::SQS::Queue", "shape modelled"
            queue_arn = resolved.arn(queue_id)
            as_invoked = parse_event(json.loads(message["Body"]))  # kops-iam redrive
            from_queue = parse_event(sqs_event_of(message, queue_arn=queue_arn))  # SQS source
            assert _same_work(as_invoked, original), (source, destination)
            assert _same_work(from_queue, original), (source, destination)


# --- 7. Permissions Lambda checks when the stack creates the configuration ---------------


def test_event_invoke_config_is_created_after_its_destination_permission(
    deployment: Synthesized,
) -> None:
    # Rule: the execution role needs permission to send to the destination
    # (sqs:SendMessage for a queue), https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html,
    # and Lambda checks it when the configuration is written ("The provided execution role
    # does not have permissions to call SendMessage on SQS", InvalidParameterValueException;
    # https://github.com/elastic/beats/issues/13963). So each EventInvokeConfig must depend,
    # explicitly, on every policy granting that send.
    resolved = Resolved(deployment.template)
    function_id = _function_id(resolved)
    function = resolved.resources[function_id]["Properties"]
    role_id = resolved.logical_id_of(function["Role"])
    for config in resolved.of_type("AWS::Lambda::EventInvokeConfig").values():
        destinations = [
            d["Destination"] for d in config["Properties"].get("DestinationConfig", {}).values()
        ]
        for destination in destinations:
            queue_arn = resolved.arn(resolved.logical_id_of(destination))
            granting = [
                policy_id
                for policy_id, policy in resolved.of_type("AWS::IAM::Policy").items()
                if {"Ref": role_id} in policy["Properties"]["Roles"]
                and identity_may(
                    _list(resolved.resolve(policy["Properties"]["PolicyDocument"])["Statement"]),
                    action="sqs:SendMessage",
                    resource=queue_arn,
                    context={},
                )
            ]
            assert granting, "the role may send to its destination"
            assert set(granting) <= set(config.get("DependsOn", [])), granting


# --- 8. Lambda concurrency fits the account -------------------------------------------------


def test_reserved_concurrency_is_an_operator_choice_never_a_default(
    own_bucket: Synthesized, existing_bucket: Synthesized
) -> None:
    # Rule: "You can reserve up to the Unreserved account concurrency value minus 100"; new
    # accounts may have a concurrency quota as low as 10, where any reservation fails the
    # deploy ("decreases account's UnreservedConcurrentExecution below its minimum value").
    # https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html
    # So the default template reserves nothing, and kops-iam:reservedConcurrency sets it.
    def reserved(deployed: Synthesized) -> Any:
        resolved = Resolved(deployed.template)
        function = resolved.resources[_function_id(resolved)]["Properties"]
        return function.get("ReservedConcurrentExecutions")

    assert reserved(own_bucket) is None
    assert reserved(existing_bucket) == 5


# --- 9. iam:PassRole for AddRoleToInstanceProfile --------------------------------------------


@pytest.mark.parametrize("env", [COMMERCIAL, CHINA], ids=["aws", "aws-cn"])
def test_pass_role_admits_add_role_to_instance_profile_in_every_partition(
    deployment: Synthesized, env: Environment
) -> None:
    # Rule: AddRoleToInstanceProfile needs iam:PassRole on the role; with
    # iam:AssociatedResourceArn the ARN is arn:<partition>:ec2:*:<account>:instance/*.
    # https://docs.aws.amazon.com/IAM/latest/APIReference/API_AddRoleToInstanceProfile.html
    # The request carries iam:PassedToService = ec2.amazonaws.com, also in aws-cn (EC2
    # launches there carry ec2.amazonaws.com.cn): Karpenter's policy and its China fix,
    # https://github.com/aws/karpenter-provider-aws/issues/6843 (docs/adr/0076).
    resolved = Resolved(deployment.template, env)
    function = resolved.resources[_function_id(resolved)]["Properties"]
    role_id = resolved.logical_id_of(function["Role"])
    statements = [
        statement
        for policy in resolved.of_type("AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in _list(
            resolved.resolve(policy["Properties"]["PolicyDocument"])["Statement"]
        )
    ]
    # kops-iam's roles live under its own IAM path (docs/adr/0061)
    role = f"arn:{env.partition}:iam::{env.account}:role{MANAGED_PATH}nodes.c1.k8s.example.com"
    for passed_to in ("ec2.amazonaws.com", "ec2.amazonaws.com.cn"):
        context = {
            "iam:PassedToService": passed_to,
            "iam:AssociatedResourceArn": f"arn:{env.partition}:ec2:*:{env.account}:instance/*",
            "iam:ResourceTag/kops-iam/managed-by": "kops-iam",
        }
        assert identity_may(statements, action="iam:PassRole", resource=role, context=context)
    elsewhere = {"iam:PassedToService": "lambda.amazonaws.com"}
    assert not identity_may(statements, action="iam:PassRole", resource=role, context=elsewhere)
    # and a role at / only when the operator lets the function write there (adoption)
    at_root = f"arn:{env.partition}:iam::{env.account}:role/nodes.c1.k8s.example.com"
    adopting = function["Environment"]["Variables"][Env.ADOPT_EXISTING_ROLES] == "true"
    assert identity_may(statements, action="iam:PassRole", resource=at_root, context=context) is (
        adopting
    )
