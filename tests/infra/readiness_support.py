"""Support for the deploy-readiness rules: a synthesized template as CloudFormation would
resolve it in one account and region, and resource policies as AWS evaluates them for a
service principal (test support; no AWS needed).

The rules themselves (``test_deploy_readiness``) come from AWS's documentation; this module
only models what they need, and raises on anything it does not model, so that a template
using it cannot pass by accident.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

STACK = "KopsIam"
#: The random part CloudFormation appends to the names it generates.
GENERATED = "1A2B3C4D5E6F"

#: The property holding a resource's physical name, for the types this stack (or CDK for
#: it) uses. Without it CloudFormation generates a unique name.
NAME_PROPERTY: Mapping[str, str] = {
    "AWS::S3::Bucket": "BucketName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::Logs::ResourcePolicy": "PolicyName",
    "AWS::Events::EventBus": "Name",
    "AWS::Events::Rule": "Name",
    "AWS::Events::Archive": "ArchiveName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::IAM::Role": "RoleName",
}


@dataclass(frozen=True)
class Environment:
    """Where the stack is deployed: the values of CloudFormation's pseudo parameters."""

    partition: str = "aws"
    region: str = "eu-west-1"
    account: str = "111122223333"
    url_suffix: str = "amazonaws.com"


COMMERCIAL = Environment()
CHINA = Environment(partition="aws-cn", region="cn-north-1", url_suffix="amazonaws.com.cn")


class Unmodelled(ValueError):
    """The template uses something these helpers do not model."""


class Resolved:
    """A template with ``Ref``, ``Fn::GetAtt``, ``Fn::Join`` and ``Fn::Sub`` resolved."""

    def __init__(self, template: Mapping[str, Any], env: Environment = COMMERCIAL) -> None:
        self.template = template
        self.resources: Mapping[str, Any] = template["Resources"]
        self.env = env

    # -- names and attributes ------------------------------------------------------------

    def fixed_name(self, logical_id: str) -> str | None:
        """The physical name the template sets, or ``None`` when CloudFormation generates it."""
        resource = self.resources[logical_id]
        prop = NAME_PROPERTY.get(resource["Type"])
        value = resource.get("Properties", {}).get(prop) if prop else None
        return None if value is None else str(self.resolve(value))

    def physical_name(self, logical_id: str) -> str:
        """The fixed name, else one shaped as CloudFormation generates them."""
        fixed = self.fixed_name(logical_id)
        return fixed if fixed is not None else f"{STACK}-{logical_id}-{GENERATED}"

    def arn(self, logical_id: str) -> str:
        resource_type = self.resources[logical_id]["Type"]
        name = self.physical_name(logical_id)
        e = self.env
        regional = f"{e.partition}:{{}}:{e.region}:{e.account}"
        formats = {
            "AWS::S3::Bucket": f"arn:{e.partition}:s3:::{name}",
            "AWS::SQS::Queue": f"arn:{regional.format('sqs')}:{name}",
            "AWS::SNS::Topic": f"arn:{regional.format('sns')}:{name}",
            "AWS::KMS::Key": f"arn:{regional.format('kms')}:key/{name}",
            "AWS::Lambda::Function": f"arn:{regional.format('lambda')}:function:{name}",
            "AWS::Logs::LogGroup": f"arn:{regional.format('logs')}:log-group:{name}:*",
            "AWS::Events::EventBus": f"arn:{regional.format('events')}:event-bus/{name}",
            "AWS::Events::Rule": f"arn:{regional.format('events')}:rule/{name}",
            "AWS::CloudWatch::Alarm": f"arn:{regional.format('cloudwatch')}:alarm:{name}",
            "AWS::IAM::Role": f"arn:{e.partition}:iam::{e.account}:role/{name}",
        }
        if resource_type not in formats:
            raise Unmodelled(f"ARN of a {resource_type}")
        return formats[resource_type]

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Partition": self.env.partition,
            "AWS::Region": self.env.region,
            "AWS::AccountId": self.env.account,
            "AWS::URLSuffix": self.env.url_suffix,
            "AWS::StackName": STACK,
        }
        if name in pseudo:
            return pseudo[name]
        resource_type = self.resources[name]["Type"]
        # What Ref returns differs by type (each type's "Return values" in the CloudFormation
        # resource reference): an ARN for topics, a URL for queues, a name for most.
        if resource_type == "AWS::SNS::Topic":
            return self.arn(name)
        if resource_type == "AWS::SQS::Queue":
            e = self.env
            host = f"sqs.{e.region}.{e.url_suffix}"
            return f"https://{host}/{e.account}/{self.physical_name(name)}"
        return self.physical_name(name)

    def get_att(self, logical_id: str, attribute: str) -> str:
        if attribute == "Arn":
            return self.arn(logical_id)
        if attribute in ("QueueName", "Name"):
            return self.physical_name(logical_id)
        return f"<{logical_id}.{attribute}>"

    def resolve(self, value: Any) -> Any:
        """``value`` with every intrinsic function this stack uses resolved."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                logical_id, attribute = arg if isinstance(arg, list) else arg.split(".", 1)
                return self.get_att(logical_id, attribute)
            if key == "Fn::Join":
                separator, parts = arg
                return str(separator).join(str(self.resolve(p)) for p in parts)
            if key == "Fn::Sub":
                text, variables = (arg, {}) if isinstance(arg, str) else arg
                resolved = {k: self.resolve(v) for k, v in variables.items()}
                return re.sub(
                    r"\$\{([^}!]+)\}",
                    lambda m: str(
                        resolved.get(m.group(1))
                        or (
                            self.get_att(*m.group(1).split(".", 1))
                            if "." in m.group(1)
                            else self.ref(m.group(1))
                        )
                    ),
                    text,
                )
            if key.startswith("Fn::"):
                raise Unmodelled(key)
        return {k: self.resolve(v) for k, v in value.items()}

    # -- finding things ------------------------------------------------------------------

    def of_type(self, resource_type: str) -> dict[str, Mapping[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def logical_id_of(self, reference: Any) -> str:
        """The logical id a ``Ref``/``Fn::GetAtt`` names."""
        if isinstance(reference, dict) and "Ref" in reference:
            return str(reference["Ref"])
        if isinstance(reference, dict) and "Fn::GetAtt" in reference:
            return str(reference["Fn::GetAtt"][0])
        raise Unmodelled(f"not a reference: {reference!r}")

    def refers_to(self, value: Any, logical_id: str) -> bool:
        """Whether ``value`` is a ``Ref`` or ``Fn::GetAtt`` of ``logical_id``."""
        try:
            return self.logical_id_of(value) == logical_id
        except Unmodelled:
            return False


def strings(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in ``value`` (after resolution), with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings(item, f"{path}.{key}" if path else str(key))


# -- resource policies, evaluated for a service principal ----------------------------------


def _wildcard(pattern: str, text: str, ignore_case: bool = False) -> bool:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(body, text, re.DOTALL | (re.IGNORECASE if ignore_case else 0)) is not None


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _arn_like(pattern: str, arn: str) -> bool:
    # ArnLike compares each of the six colon-separated ARN parts on its own (IAM User
    # Guide, "Amazon Resource Name (ARN) condition operators").
    parts, values = pattern.split(":", 5), arn.split(":", 5)
    return len(parts) == len(values) == 6 and all(map(_wildcard, parts, values))


_OPERATORS = {
    "StringEquals": lambda value, expected: value == expected,
    "StringLike": lambda value, expected: _wildcard(expected, value),
    "ArnEquals": lambda value, expected: value == expected,
    "ArnLike": lambda value, expected: _arn_like(expected, value),
    "Bool": lambda value, expected: value.lower() == str(expected).lower(),
}


def _condition_holds(condition: Mapping[str, Any], context: Mapping[str, str]) -> bool:
    for operator, entries in condition.items():
        if operator not in _OPERATORS:
            raise Unmodelled(f"condition operator {operator}")
        for key, expected in entries.items():
            value = next((v for k, v in context.items() if k.lower() == key.lower()), None)
            if value is None:  # a key absent from the request: the condition is false
                return False
            if not any(_OPERATORS[operator](value, str(e)) for e in _list(expected)):
                return False
    return True


def _principal_matches(principal: Any, service: str) -> bool:
    if principal == "*":
        return True
    if isinstance(principal, dict):
        return service in _list(principal.get("Service", [])) or "*" in _list(
            principal.get("AWS", [])
        )
    return False


def service_may(
    statements: list[Mapping[str, Any]],
    *,
    service: str,
    action: str,
    resource: str,
    context: Mapping[str, str],
) -> bool:
    """Whether a resource policy lets ``service`` do ``action`` on ``resource`` in ``context``
    (explicit deny wins, then any allow; IAM User Guide, "Policy evaluation logic")."""
    return _decide(statements, service, action, resource, context)


def identity_may(
    statements: list[Mapping[str, Any]],
    *,
    action: str,
    resource: str,
    context: Mapping[str, str],
) -> bool:
    """Whether identity-policy ``statements`` allow ``action`` on ``resource`` in ``context``."""
    return _decide(statements, None, action, resource, context)


def _decide(
    statements: list[Mapping[str, Any]],
    service: str | None,
    action: str,
    resource: str,
    context: Mapping[str, str],
) -> bool:
    allowed = False
    for statement in statements:
        if "NotPrincipal" in statement or "NotAction" in statement or "NotResource" in statement:
            raise Unmodelled("Not* elements")
        if service is not None and not _principal_matches(statement.get("Principal"), service):
            continue
        if not any(_wildcard(a, action, ignore_case=True) for a in _list(statement["Action"])):
            continue
        if not any(r == "*" or _wildcard(r, resource) for r in _list(statement["Resource"])):
            continue
        if not _condition_holds(statement.get("Condition", {}), context):
            continue
        if statement["Effect"] == "Deny":
            return False
        allowed = True
    return allowed
