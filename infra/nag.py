"""cdk-nag (3.x): the AwsSolutions checks run at synth; each finding is acknowledged by its
exact id next to the construct it concerns, always with the reason (docs/adr/0013)."""

from __future__ import annotations

from typing import Any, Final

from aws_cdk import Acknowledgment, Stack, Validations
from cdk_nag import AwsSolutionsChecks
from constructs import IConstruct

#: The plugin name cdk-nag's AwsSolutions pack reports under (prefix of finding ids).
PLUGIN: Final = "AwsSolutions"


def add_checks(scope: IConstruct) -> None:
    """Run cdk-nag's AwsSolutions pack on ``scope``; an unacknowledged finding fails synth."""
    Validations.of(scope).add_plugins(AwsSolutionsChecks(scope))


def finding_id(rule: str, detail: str | None = None) -> str:
    """The id a finding is reported (and acknowledged) under.

    ``finding_id("AwsSolutions-IAM5", "Resource::*")`` is
    ``AwsSolutions::AwsSolutions-IAM5[Resource::*]``.
    """
    return f"{PLUGIN}::{rule}" + (f"[{detail}]" if detail else "")


def acknowledge(scope: IConstruct, rule: str, reason: str, detail: str | None = None) -> None:
    """Acknowledge one finding of ``rule`` (and ``detail``) on ``scope`` and below.

    Raises
    ------
    ValueError
        When ``reason`` is blank: an acknowledgement without a reason is not allowed.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {finding_id(rule, detail)} needs a reason")
    Validations.of(scope).acknowledge(Acknowledgment(id=finding_id(rule, detail), reason=reason))


def resource_text(scope: IConstruct, value: str) -> str:
    """How cdk-nag spells a (tokenised) resource string in a finding id.

    References render as ``<LogicalId>``, attributes as ``<LogicalId.Attr>``, pseudo
    parameters as ``<AWS::Partition>``; joins are flattened.
    """
    return _render(Stack.of(scope).resolve(value))


def _render(node: Any) -> str:
    if isinstance(node, str):
        return node
    if isinstance(node, dict) and "Ref" in node:
        return f"<{node['Ref']}>"
    if isinstance(node, dict) and "Fn::GetAtt" in node:
        logical_id, attribute = node["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if isinstance(node, dict) and "Fn::Join" in node:
        separator, parts = node["Fn::Join"]
        return str(separator).join(_render(part) for part in parts)
    raise ValueError(f"cannot render {node!r} the way cdk-nag does")
