"""The synthesized stack in both bucket modes: resources, triggers, delivery, audit, drift."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra_support import EXISTING_BUCKET, EXISTING_CONTEXT, Synthesized

from infra.drift import BATCH_SIZE, BATCH_WINDOW
from infra.eventing import MAX_EVENT_AGE, RETRY_ATTEMPTS
from infra.reconciler import HANDLER, TIMEOUT
from kops_iam.application.settings import Defaults, Env
from kops_iam.aws.audit import audit_event_pattern
from kops_iam.aws.events import s3_spec_event_pattern
from kops_iam.domain.state_store import SPEC_KEY_SUFFIX


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


# --- specs bucket -------------------------------------------------------------------------


def test_own_bucket_is_versioned_encrypted_private_logged_and_expires_old_versions(
    own_bucket: Synthesized,
) -> None:
    buckets = own_bucket.resources("AWS::S3::Bucket")
    specs_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    logs_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsAccessLogs")
    specs = buckets[specs_id]
    props = specs["Properties"]

    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["LoggingConfiguration"]["DestinationBucketName"] == ref(logs_id)
    [rule] = props["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": 90}
    # Kept when the stack is deleted, but not when the create that made it rolls back
    assert (specs["DeletionPolicy"], specs["UpdateReplacePolicy"]) == (
        "RetainExceptOnCreate",
        "Retain",
    )


def test_own_bucket_refuses_plain_http_and_old_tls(own_bucket: Synthesized) -> None:
    specs_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in own_bucket.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(specs_id)
    ]
    denies = [s["Condition"] for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in denies
    assert {"NumericLessThan": {"s3:TlsVersion": 1.2}} in denies


def test_existing_bucket_is_never_created_nor_modified(existing_bucket: Synthesized) -> None:
    # the one bucket made is the drift snapshot bucket (docs/adr/0117), and only it has a policy
    snapshots = existing_bucket.logical_id("AWS::S3::Bucket", "DriftSnapshots")
    assert list(existing_bucket.resources("AWS::S3::Bucket")) == [snapshots]
    policies = existing_bucket.resources("AWS::S3::BucketPolicy").values()
    assert [p["Properties"]["Bucket"] for p in policies] == [ref(snapshots)]
    assert existing_bucket.resources("Custom::S3BucketNotifications") == {}


# --- triggers -----------------------------------------------------------------------------


def _owns_bucket(deployment: Synthesized) -> bool:
    return any(key.startswith("SpecsBucket") for key in deployment.resources("AWS::S3::Bucket"))


def test_own_bucket_sends_its_events_to_eventbridge_and_a_rule_to_the_function(
    own_bucket: Synthesized,
) -> None:
    # S3 notification filters cannot select */instancegroup/*: the own bucket's events go
    # to EventBridge, as an existing bucket's do (docs/adr/0093)
    function_id = own_bucket.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    specs_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    queue_id = own_bucket.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    notifications = own_bucket.only("Custom::S3BucketNotifications")
    assert notifications["BucketName"] == ref(specs_id)
    assert notifications["NotificationConfiguration"] == {"EventBridgeConfiguration": {}}
    rule = own_bucket.resources("AWS::Events::Rule")[
        own_bucket.logical_id("AWS::Events::Rule", "SpecsSpecChanged")
    ]["Properties"]
    assert "EventBusName" not in rule
    assert rule["EventPattern"] == s3_spec_event_pattern(ref(specs_id))  # type: ignore[arg-type]
    [target] = rule["Targets"]
    assert target["Arn"] == arn_of(function_id)
    assert target["DeadLetterConfig"] == {"Arn": arn_of(queue_id)}


def test_the_rule_matches_config_and_instance_group_keys_only() -> None:
    keys = s3_spec_event_pattern("b")["detail"]["object"]["key"]  # type: ignore[index]
    assert keys == [{"suffix": SPEC_KEY_SUFFIX}, {"wildcard": "*/instancegroup/*"}]


def test_only_eventbridge_rules_of_this_stack_may_invoke_the_function(
    deployment: Synthesized,
) -> None:
    permissions = [
        p["Properties"] for p in deployment.resources("AWS::Lambda::Permission").values()
    ]
    assert permissions
    for permission in permissions:
        assert permission["Principal"] == "events.amazonaws.com"
        rule_id = permission["SourceArn"]["Fn::GetAtt"][0]
        assert deployment.template["Resources"][rule_id]["Type"] == "AWS::Events::Rule"


def test_existing_bucket_triggers_through_an_eventbridge_rule_on_the_default_bus(
    existing_bucket: Synthesized,
) -> None:
    function_id = existing_bucket.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    queue_id = existing_bucket.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    rule = existing_bucket.resources("AWS::Events::Rule")[
        existing_bucket.logical_id("AWS::Events::Rule", "SpecsSpecChanged")
    ]["Properties"]

    assert "EventBusName" not in rule  # the default bus, where S3 sends its events
    assert rule["EventPattern"] == s3_spec_event_pattern(EXISTING_BUCKET)
    [target] = rule["Targets"]
    assert target["Arn"] == arn_of(function_id)
    assert target["DeadLetterConfig"] == {"Arn": arn_of(queue_id)}
    assert target["RetryPolicy"]["MaximumEventAgeInSeconds"] == MAX_EVENT_AGE.to_seconds()


def test_drift_schedule_invokes_the_function(deployment: Synthesized) -> None:
    function_id = deployment.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    rule = deployment.resources("AWS::Events::Rule")[
        deployment.logical_id("AWS::Events::Rule", "DriftSchedule")
    ]["Properties"]
    [target] = rule["Targets"]
    assert target["Arn"] == arn_of(function_id)
    assert "DeadLetterConfig" in target
    expected = "rate(1 hour)" if _owns_bucket(deployment) else "rate(30 minutes)"
    assert rule["ScheduleExpression"] == expected


def test_the_drift_queue_feeds_the_function_within_the_iam_budget(
    deployment: Synthesized,
) -> None:
    # Given the drift queue and its dead-letter queue
    queue_id = deployment.logical_id("AWS::SQS::Queue", "DriftChecks")
    dead_id = deployment.logical_id("AWS::SQS::Queue", "DriftFailedChecks")
    queues = deployment.resources("AWS::SQS::Queue")
    queue = queues[queue_id]["Properties"]
    # Then failed checks move to the dead-letter queue after the setting's deliveries
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(dead_id),
        "maxReceiveCount": Defaults.DRIFT_MAX_RECEIVES,
    }
    # And a batch in progress is never handed out twice (6 x the function's timeout)
    assert queue["VisibilityTimeout"] == 6 * TIMEOUT.to_seconds()
    assert queue["SqsManagedSseEnabled"] is True and "QueueName" not in queue
    assert queues[dead_id]["Properties"]["SqsManagedSseEnabled"] is True
    # And the event source mapping reports per-item failures, bounded by the IAM budget
    mapping = deployment.only("AWS::Lambda::EventSourceMapping")
    function_id = deployment.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    assert mapping["EventSourceArn"] == arn_of(queue_id)
    assert mapping["FunctionName"] == ref(function_id)
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    expected = 5 if _owns_bucket(deployment) else 3  # the default; the operator's
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": expected}
    assert mapping["BatchSize"] == BATCH_SIZE
    assert mapping["MaximumBatchingWindowInSeconds"] == BATCH_WINDOW.to_seconds() >= 1
    # And the function knows the queue and its deliveries
    variables = _environment(deployment)
    assert variables[Env.DRIFT_QUEUE_URL] == ref(queue_id)
    assert variables[Env.DRIFT_MAX_RECEIVES] == str(Defaults.DRIFT_MAX_RECEIVES)
    assert variables[Env.DRIFT_READ] == ("bulk" if _owns_bucket(deployment) else "per-role")
    assert variables[Env.EVENT_READ] == ("bulk" if _owns_bucket(deployment) else "per-role")


# --- the function -------------------------------------------------------------------------


def test_function_runtime_architecture_tracing_and_handler(deployment: Synthesized) -> None:
    function = deployment.resources("AWS::Lambda::Function")[
        deployment.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    ]["Properties"]
    assert function["Runtime"] in {"python3.12", "python3.13"}
    assert function["Architectures"] == ["arm64"]
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Handler"] == HANDLER
    assert function["FunctionName"] == Defaults.FUNCTION_NAME
    log_id = deployment.logical_id("AWS::Logs::LogGroup", "ReconcilerLog")
    assert function["LoggingConfig"]["LogGroup"] == ref(log_id)


def _environment(deployed: Synthesized) -> dict[str, Any]:
    function = deployed.resources("AWS::Lambda::Function")[
        deployed.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    ]
    variables: dict[str, Any] = function["Properties"]["Environment"]["Variables"]
    return variables


def test_default_configuration_reaches_the_function(own_bucket: Synthesized) -> None:
    bus_id = own_bucket.logical_id("AWS::Events::EventBus", "AuditBus")
    bucket_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    assert _environment(own_bucket) == {
        Env.SPECS_BUCKET: ref(bucket_id),
        Env.AUDIT_BUS_NAME: ref(bus_id),
        Env.MODE: "apply",
        Env.PERMISSIONS_BOUNDARY: "",
        Env.ALLOWED_ACTIONS: "",
        Env.UNKNOWN_ACTIONS: "warn",
        Env.KNOWN_ACTIONS: "",
        Env.ALLOWED_MANAGED_POLICIES: "",
        Env.ADOPT_EXISTING_ROLES: "false",
        Env.RETAIN_ON_DELETE: "false",
        Env.MANAGE_ROOT_PATH_ROLES: "false",
        Env.DRIFT_READ: "bulk",
        Env.EVENT_READ: "bulk",
        Env.DRIFT_QUEUE_URL: ref(own_bucket.logical_id("AWS::SQS::Queue", "DriftChecks")),
        Env.DRIFT_MAX_RECEIVES: str(Defaults.DRIFT_MAX_RECEIVES),
        Env.SNAPSHOT_BUCKET: ref(own_bucket.logical_id("AWS::S3::Bucket", "DriftSnapshots")),
        Env.AUDIENCE: "stack",
        "POWERTOOLS_SERVICE_NAME": Defaults.POWERTOOLS_SERVICE_NAME,
        "POWERTOOLS_METRICS_NAMESPACE": Defaults.METRICS_NAMESPACE,
        "PYDANTIC_DISABLE_PLUGINS": "__all__",
    }


def test_operator_settings_reach_the_function(existing_bucket: Synthesized) -> None:
    variables = _environment(existing_bucket)
    assert variables[Env.SPECS_BUCKET] == EXISTING_BUCKET
    assert variables[Env.MODE] == "plan"
    assert (
        variables[Env.PERMISSIONS_BOUNDARY] == EXISTING_CONTEXT["kops-iam:permissionsBoundaryArn"]
    )
    assert variables[Env.ALLOWED_ACTIONS] == "iam:PassRole,ec2:RunInstances"
    assert variables[Env.UNKNOWN_ACTIONS] == "error"
    assert variables[Env.KNOWN_ACTIONS] == "aidevops:GetAsset"
    assert variables[Env.ALLOWED_MANAGED_POLICIES] == ",".join(
        EXISTING_CONTEXT["kops-iam:allowedManagedPolicyArns"]
    )
    assert variables[Env.ADOPT_EXISTING_ROLES] == "true"
    assert variables[Env.RETAIN_ON_DELETE] == "true"


def test_log_retention_is_the_configured_one(deployment: Synthesized) -> None:
    own = _owns_bucket(deployment)
    groups = deployment.resources("AWS::Logs::LogGroup")
    function_log = groups[deployment.logical_id("AWS::Logs::LogGroup", "ReconcilerLog")]
    audit_log = groups[deployment.logical_id("AWS::Logs::LogGroup", "AuditLog")]
    assert function_log["Properties"]["RetentionInDays"] == (30 if own else 14)
    assert audit_log["Properties"]["RetentionInDays"] == (365 if own else 3653)
    assert audit_log["Properties"]["LogGroupName"] == Defaults.AUDIT_LOG_GROUP
    assert audit_log["DeletionPolicy"] == "RetainExceptOnCreate"


# --- delivery guarantees ------------------------------------------------------------------


def test_async_invocations_retry_then_go_to_the_failure_queue(deployment: Synthesized) -> None:
    queue_id = deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    function_id = deployment.logical_id("AWS::Lambda::Function", "ReconcilerFunction")
    config = deployment.only("AWS::Lambda::EventInvokeConfig")
    assert config["FunctionName"] == ref(function_id)
    assert config["MaximumRetryAttempts"] == RETRY_ATTEMPTS == 2
    assert config["MaximumEventAgeInSeconds"] == MAX_EVENT_AGE.to_seconds() == 3600
    assert config["DestinationConfig"] == {"OnFailure": {"Destination": arn_of(queue_id)}}


def test_failure_queue_is_encrypted_and_tls_only(deployment: Synthesized) -> None:
    queue = deployment.resources("AWS::SQS::Queue")[
        deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    ]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True
    assert "QueueName" not in queue  # generated: a retry never waits for SQS's 60 s
    failure_id = deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    [policy] = [
        p["Properties"]
        for p in deployment.resources("AWS::SQS::QueuePolicy").values()
        if p["Properties"]["Queues"] == [ref(failure_id)]
    ]
    statements = policy["PolicyDocument"]["Statement"]
    assert {
        "Action": "sqs:*",
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        "Effect": "Deny",
        "Principal": {"AWS": "*"},
        "Resource": arn_of(deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")),
    } in statements
    # Only EventBridge rules of this stack may add dead letters (besides the function's role)
    allowed = [s for s in statements if s["Effect"] == "Allow"]
    assert allowed and all(s["Principal"] == {"Service": "events.amazonaws.com"} for s in allowed)
    assert all("aws:SourceArn" in s["Condition"]["ArnEquals"] for s in allowed)


def test_alarms_on_queue_depth_function_errors_and_lost_events(deployment: Synthesized) -> None:
    topic_id = deployment.logical_id("AWS::SNS::Topic", "FailuresAlarms")
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"]
        for a in deployment.resources("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {
        "kops-iam-failed-events",
        "kops-iam-failed-drift-checks",
        "kops-iam-function-errors",
        "kops-iam-lost-events",
    }
    queues = {
        "kops-iam-failed-events": "FailuresFailedEvents",
        "kops-iam-failed-drift-checks": "DriftFailedChecks",
    }
    for name, queue in queues.items():
        assert alarms[name]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert alarms[name]["Namespace"] == "AWS/SQS"
        [dimension] = alarms[name]["Dimensions"]
        queue_id = deployment.logical_id("AWS::SQS::Queue", queue)
        assert dimension["Value"] == {"Fn::GetAtt": [queue_id, "QueueName"]}
    assert alarms["kops-iam-function-errors"]["MetricName"] == "Errors"
    assert alarms["kops-iam-function-errors"]["Namespace"] == "AWS/Lambda"
    assert alarms["kops-iam-lost-events"]["MetricName"] == "DestinationDeliveryFailures"
    for alarm in alarms.values():
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmActions"] == [ref(topic_id)]


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_can_use(deployment: Synthesized) -> None:
    key_id = deployment.logical_id("AWS::KMS::Key", "FailuresAlarmTopicKey")
    topic = deployment.only("AWS::SNS::Topic")
    assert topic["KmsMasterKeyId"] == arn_of(key_id)
    key = deployment.only("AWS::KMS::Key")
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "cloudwatch.amazonaws.com"} in principals


def test_alarm_email_is_subscribed_only_when_given(
    own_bucket: Synthesized, existing_bucket: Synthesized
) -> None:
    assert own_bucket.resources("AWS::SNS::Subscription") == {}
    subscription = existing_bucket.only("AWS::SNS::Subscription")
    assert subscription["Protocol"] == "email"
    assert subscription["Endpoint"] == EXISTING_CONTEXT["kops-iam:alarmEmail"]


# --- audit --------------------------------------------------------------------------------


def test_audit_bus_has_an_archive_of_every_audit_event(deployment: Synthesized) -> None:
    own = _owns_bucket(deployment)
    bus_id = deployment.logical_id("AWS::Events::EventBus", "AuditBus")
    assert deployment.only("AWS::Events::EventBus")["Name"] == (
        Defaults.AUDIT_BUS_NAME if own else "kops-audit"
    )
    archive = deployment.only("AWS::Events::Archive")
    assert archive["SourceArn"] == arn_of(bus_id)
    assert archive["EventPattern"] == audit_event_pattern()
    assert archive.get("RetentionDays", 0) == (365 if own else 0)  # 0: kept forever


def test_every_audit_event_is_copied_to_the_audit_log_group(deployment: Synthesized) -> None:
    bus_id = deployment.logical_id("AWS::Events::EventBus", "AuditBus")
    log_id = deployment.logical_id("AWS::Logs::LogGroup", "AuditLog")
    rule = deployment.resources("AWS::Events::Rule")[
        deployment.logical_id("AWS::Events::Rule", "AuditToLog")
    ]["Properties"]
    assert rule["EventBusName"] == ref(bus_id)
    assert rule["EventPattern"] == audit_event_pattern()
    [target] = rule["Targets"]
    # A log group target is addressed by its ARN without the trailing ":*"
    assert target["Arn"] == {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":logs:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":log-group:",
                ref(log_id),
            ],
        ]
    }
    # EventBridge writes through the log group's resource policy, for this group only
    parts = deployment.only("AWS::Logs::ResourcePolicy")["PolicyDocument"]["Fn::Join"][1]
    assert arn_of(log_id) in parts
    policy = json.loads("".join(p if isinstance(p, str) else "LOG-GROUP-ARN" for p in parts))
    [statement] = policy["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert sorted(statement["Action"]) == ["logs:CreateLogStream", "logs:PutLogEvents"]
    assert statement["Resource"] == "LOG-GROUP-ARN"


def test_no_custom_resource_lambda_is_needed_for_the_audit_log(deployment: Synthesized) -> None:
    assert not [
        r
        for r in deployment.template["Resources"].values()
        if r["Type"].startswith("Custom::Cloudwatch")
    ]


# --- outputs ------------------------------------------------------------------------------


def test_outputs_name_the_bucket_bus_and_failure_queue(deployment: Synthesized) -> None:
    outputs = deployment.template["Outputs"]
    bus_id = deployment.logical_id("AWS::Events::EventBus", "AuditBus")
    queue_id = deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    assert outputs["AuditBusArn"]["Value"] == arn_of(bus_id)
    assert outputs["FailureQueueUrl"]["Value"] == ref(queue_id)
    bucket = outputs["SpecsBucketName"]["Value"]
    if _owns_bucket(deployment):
        assert bucket == ref(deployment.logical_id("AWS::S3::Bucket", "SpecsBucket"))
    else:
        assert bucket == EXISTING_BUCKET


# --- the function's policy, as synthesized ------------------------------------------------


def _role_statements(deployed: Synthesized) -> list[dict[str, Any]]:
    """Every statement of every policy attached to the function's role."""
    role_id = deployed.logical_id("AWS::IAM::Role", "ReconcilerRole")
    role = deployed.template["Resources"][role_id]["Properties"]
    assert "ManagedPolicyArns" not in role and "Policies" not in role
    statements: list[dict[str, Any]] = []
    for policy in deployed.resources("AWS::IAM::Policy").values():
        if ref(role_id) in policy["Properties"]["Roles"]:
            statements.extend(policy["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else action


def test_no_role_statement_grants_iam_star(deployment: Synthesized) -> None:
    for statement in _role_statements(deployment):
        if statement["Effect"] == "Deny":  # denying iam:* only takes away
            continue
        for action in _actions(statement):
            assert action.lower() not in {"*", "iam:*"} and not action.endswith(":*"), statement


def test_pass_role_is_granted_once_only_to_ec2(deployment: Synthesized) -> None:
    passing = [s for s in _role_statements(deployment) if "iam:PassRole" in _actions(s)]
    assert [s["Sid"] for s in passing] == ["PassKopsRolesToEc2"]
    assert "iam:PassedToService" in passing[0]["Condition"]["StringEquals"]


def test_resource_star_only_for_xray_hosted_zones_and_the_bulk_read(
    deployment: Synthesized,
) -> None:
    star = [s for s in _role_statements(deployment) if s["Resource"] == "*"]
    bulk = [["iam:GetAccountAuthorizationDetails"]] if _owns_bucket(deployment) else []
    assert sorted(sorted(_actions(s)) for s in star) == sorted(
        [
            *bulk,
            ["route53:ListHostedZonesByName"],
            ["xray:PutTelemetryRecords", "xray:PutTraceSegments"],
        ]
    )


def test_the_rest_of_the_default_policy_is_the_failure_destination_and_the_drift_queue(
    deployment: Synthesized,
) -> None:
    queue_id = deployment.logical_id("AWS::SQS::Queue", "FailuresFailedEvents")
    drift_id = deployment.logical_id("AWS::SQS::Queue", "DriftChecks")
    unnamed = [s for s in _role_statements(deployment) if "Sid" not in s and s["Resource"] != "*"]
    assert sorted((sorted(_actions(s)), json.dumps(s["Resource"])) for s in unnamed) == sorted(
        [
            (
                ["sqs:GetQueueAttributes", "sqs:GetQueueUrl", "sqs:SendMessage"],
                json.dumps(arn_of(queue_id)),
            ),
            # the event source mapping's own grant: receive, delete, hide again
            (
                [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:GetQueueUrl",
                    "sqs:ReceiveMessage",
                ],
                json.dumps(arn_of(drift_id)),
            ),
        ]
    )


def test_own_bucket_policy_statements(
    own_bucket: Synthesized,
    statements_of: Callable[[Synthesized], dict[str | None, dict[str, Any]]],
) -> None:
    bucket_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    policy = statements_of(own_bucket)
    assert sorted(policy) == sorted(
        [
            "ReadClusterSpecs",
            "NeverReadStateStoreSecrets",
            "ListClusterSpecs",
            "PublishAuditEvents",
            "ResolveKmsKeyAliases",
            "FindHostedZones",
            "WriteOwnLogs",
            "ReadKopsRolesAndInstanceProfiles",
            "ReadAccountRolesInBulk",
            "CreateOwnedRoles",
            "TagRolesOnCreate",
            "ManageKopsRoles",
            "UntagKopsRolesButNotOwnership",
            "ManageSpecBoundaries",
            "PassKopsRolesToEc2",
            "CreateOwnedInstanceProfiles",
            "TagInstanceProfilesOnCreate",
            "ManageKopsInstanceProfiles",
            "UntagKopsInstanceProfilesButNotOwnership",
            "NeverRemoveOwnershipTags",
            "NeverReassignToAnotherCluster",
            "QueueDriftChecks",
            "ShareDriftSnapshot",
        ]
    )
    assert policy["ReadClusterSpecs"]["Resource"] == [
        {"Fn::Join": ["", [arn_of(bucket_id), f"/*{SPEC_KEY_SUFFIX}"]]},
        {"Fn::Join": ["", [arn_of(bucket_id), "/*/instancegroup/*"]]},
    ]
    assert policy["NeverReadStateStoreSecrets"]["Effect"] == "Deny"
    assert sorted(map(json.dumps, policy["NeverReadStateStoreSecrets"]["Resource"])) == sorted(
        json.dumps({"Fn::Join": ["", [arn_of(bucket_id), f"/*/{d}/*"]]})
        for d in ("pki", "secrets", "addons")
    )
    assert policy["ListClusterSpecs"]["Resource"] == arn_of(bucket_id)
    bus_id = own_bucket.logical_id("AWS::Events::EventBus", "AuditBus")
    assert policy["PublishAuditEvents"]["Resource"] == arn_of(bus_id)


def test_existing_bucket_policy_statements(
    existing_bucket: Synthesized,
    statements_of: Callable[[Synthesized], dict[str | None, dict[str, Any]]],
) -> None:
    policy = statements_of(existing_bucket)
    # Adoption enabled: writes also at / (kops' own roles), never below a kops-named segment
    assert "NeverTouchAnythingBelowAKopsNamedPath" in policy
    # Boundary set: no boundary removal; managed policies allowed: attach limited to them
    assert "ManageSpecBoundaries" not in policy
    assert "SetOperatorBoundaryOnly" in policy
    assert "AttachAllowedManagedPoliciesOnly" in policy
    assert "DecryptClusterSpecsThroughS3" in policy
    bucket_arn = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{EXISTING_BUCKET}"]]}
    assert policy["ListClusterSpecs"]["Resource"] == bucket_arn
    assert policy["ReadClusterSpecs"]["Resource"] == [
        {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, f":s3:::{EXISTING_BUCKET}/{p}"]]}
        for p in (f"*{SPEC_KEY_SUFFIX}", "*/instancegroup/*")
    ]


def test_own_bucket_denies_spec_writes_to_every_kops_cluster_role(own_bucket: Synthesized) -> None:
    # A node could otherwise rewrite its own spec (kops' s3:* on <cluster>/) or another
    # cluster's (additionalPolicies may grant s3:PutObject), and kops-iam would apply it.
    # InstanceGroups decide a cluster's roles too: they are covered alike.
    specs_id = own_bucket.logical_id("AWS::S3::Bucket", "SpecsBucket")
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in own_bucket.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(specs_id)
    ]
    [statement] = [s for s in policy if s.get("Sid") == "KopsClusterRolesNeverWriteSpecs"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == {"AWS": "*"}
    assert sorted(statement["Action"]) == [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:PutObject",
    ]
    assert statement["Resource"] == [
        {"Fn::Join": ["", [arn_of(specs_id), "/*/config"]]},
        {"Fn::Join": ["", [arn_of(specs_id), "/*/instancegroup/*"]]},
    ]
    patterns = [
        "".join(
            p if isinstance(p, str) else "<" + next(iter(p.values())) + ">"
            for p in arn["Fn::Join"][1]
        )
        for arn in statement["Condition"]["ArnLike"]["aws:PrincipalArn"]
    ]
    role = "arn:<AWS::Partition>:iam::<AWS::AccountId>:role"
    assert patterns == [
        f"{role}/kops-iam/*",
        *(f"{role}/{p}.*" for p in ("masters", "nodes", "bastions")),
        *(f"{role}/*/{p}.*" for p in ("masters", "nodes", "bastions")),
    ]


# --- the drift snapshot bucket (docs/adr/0117) ---------------------------------------------


def test_the_function_reads_and_writes_one_snapshot_object_and_no_one_else_touches_it(
    deployment: Synthesized,
    statements_of: Callable[[Synthesized], dict[str | None, dict[str, Any]]],
) -> None:
    from kops_iam.aws.snapshot_store import SNAPSHOT_KEY

    bucket_id = deployment.logical_id("AWS::S3::Bucket", "DriftSnapshots")
    share = statements_of(deployment)["ShareDriftSnapshot"]
    assert share["Effect"] == "Allow"
    assert sorted(_actions(share)) == ["s3:GetObject", "s3:PutObject"]
    assert share["Resource"] == {"Fn::Join": ["", [arn_of(bucket_id), f"/{SNAPSHOT_KEY}"]]}
    [policy] = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in deployment.resources("AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == ref(bucket_id)
    ]
    [only] = [s for s in policy if s.get("Sid") == "OnlyTheFunctionReadsAndWritesSnapshots"]
    role_id = deployment.logical_id("AWS::IAM::Role", "ReconcilerRole")
    assert only["Effect"] == "Deny" and only["Principal"] == {"AWS": "*"}
    assert sorted(_actions(only)) == [
        "s3:DeleteObject",
        "s3:DeleteObjectVersion",
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:PutObject",
    ]
    assert only["Resource"] == {"Fn::Join": ["", [arn_of(bucket_id), "/*"]]}
    assert only["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": arn_of(role_id)}}
    denies = [s["Condition"] for s in policy if s["Effect"] == "Deny"]
    assert {"Bool": {"aws:SecureTransport": "false"}} in denies
    bucket = deployment.resources("AWS::S3::Bucket")[bucket_id]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] is True
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 2
