"""Synthesize the CDK stack offline (bundling skipped) and read the function role's policy."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rel_authz import Template

from kops_iam.application.settings import Defaults

ROOT = Path(__file__).resolve().parents[2]
BOUNDARY = "arn:aws:iam::123456789012:policy/kops-boundary"
SSM_CORE = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
EXTRA = "arn:aws:iam::123456789012:policy/kops-extra"

#: Deployments evaluated: the defaults, one with an operator boundary and an allow-list
#: of managed policies, and one keeping the roles kops-iam made at path / before 0061
#: (none with adoption, which opts into touching kops' own roles).
DEPLOYMENTS: dict[str, dict[str, Any]] = {
    "default": {},
    "guarded": {
        "kops-iam:permissionsBoundaryArn": BOUNDARY,
        "kops-iam:allowedManagedPolicyArns": [SSM_CORE, EXTRA],
    },
    "root-path": {"kops-iam:manageRootPathRoles": True},
}


@dataclass(frozen=True)
class Deployment:
    name: str
    context: Mapping[str, Any]
    template: Template
    role_id: str
    statements: list[dict[str, Any]]

    @property
    def boundary(self) -> str | None:
        value = self.context.get("kops-iam:permissionsBoundaryArn")
        return str(value) if value else None

    @property
    def root_path(self) -> bool:
        """Whether roles kops-iam made at path / before 0061 are still managed."""
        return bool(self.context.get("kops-iam:manageRootPathRoles"))


def synthesize(name: str) -> Deployment:
    """Synthesize deployment ``name`` of :data:`DEPLOYMENTS` (cdk-nag runs too)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("CDK_DISABLE_CLI_TELEMETRY", "true")
    os.environ.setdefault("CDK_DISABLE_VERSION_CHECK", "1")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))  # the ``infra`` package lives at the top of the repo
    from infra.app import build_app
    from infra.stack import STACK_NAME

    context = {
        **json.loads((ROOT / "cdk.json").read_text())["context"],
        "aws:cdk:bundling-stacks": [],
        **DEPLOYMENTS[name],
    }
    outdir = tempfile.mkdtemp(prefix=f"kops-iam-reliability-{name}-")
    raw = build_app(context, outdir=outdir).synth().get_stack_by_name(STACK_NAME).template
    # An own bucket gets a generated name in AWS; here it gets the default one, which the
    # moto world uses too.
    buckets = [k for k, v in raw["Resources"].items() if v["Type"] == "AWS::S3::Bucket"]
    names = {
        b: Defaults.SNAPSHOT_BUCKET if b.startswith("DriftSnapshots") else Defaults.SPECS_BUCKET
        for b in buckets
    }
    # Likewise the drift queues (generated names in AWS; the world's names here).
    for logical_id, resource in raw["Resources"].items():
        if resource["Type"] == "AWS::SQS::Queue" and logical_id.startswith("DriftChecks"):
            names[logical_id] = Defaults.DRIFT_QUEUE
        if resource["Type"] == "AWS::SQS::Queue" and logical_id.startswith("DriftFailedChecks"):
            names[logical_id] = Defaults.DRIFT_DEAD_LETTERS
    template = Template(raw, names)
    role_id = function_role(template)
    return Deployment(name, context, template, role_id, template.role_statements(role_id))


def function_environment(deployment: Deployment) -> dict[str, str]:
    """The reconciler function's environment variables, resolved."""
    template = deployment.template
    function = _function_id(template)
    variables = template.resources[function]["Properties"]["Environment"]["Variables"]
    return {k: str(template.resolve(v)) for k, v in variables.items()}


def _function_id(template: Template) -> str:
    functions = [
        lid
        for lid in template.logical_ids("AWS::Lambda::Function")
        if "Reconciler" in lid or "kops-iam-reconciler" in json.dumps(template.resources[lid])
    ]
    assert len(functions) == 1, f"reconciler function not found unambiguously: {functions}"
    return functions[0]


def function_role(template: Template) -> str:
    """Logical id of the reconciler function's execution role."""
    role = template.resources[_function_id(template)]["Properties"]["Role"]
    assert isinstance(role, dict) and "Fn::GetAtt" in role, role
    logical_id: str = role["Fn::GetAtt"][0]
    return logical_id
