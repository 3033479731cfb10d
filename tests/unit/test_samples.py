"""The sample specs in events/specs: valid ones render as kops documents, each invalid one
fails for its reason. What each one renders, in full, is pinned by its golden file
(tests/golden/samples, ``make golden``).

Each invalid sample states its mistake on its first line and the field path of the error it
must produce on its second (``# expect: <path>``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import plan_spec

ROOT = Path(__file__).resolve().parents[2] / "events" / "specs"
VALID = sorted(ROOT.glob("*.yaml"))
INVALID = sorted((ROOT / "invalid").glob("*.yaml"))
#: What an operator approves for the samples: bastion-all-roles.yaml's bastion may start SSM
#: sessions, an escalation action (docs/adr/0062) the spec cannot approve itself.
OPTIONS = Options(account_id="123456789012", allowed_actions=frozenset({"ssm:StartSession"}))

DOCUMENTED_MASTER = [
    "ec2:*",
    "route53:*",
    "elasticloadbalancing:*",
    "ecr:GetAuthorizationToken",
    "ecr:BatchCheckLayerAvailability",
    "ecr:GetDownloadUrlForLayer",
    "ecr:GetRepositoryPolicy",
    "ecr:DescribeRepositories",
    "ecr:ListImages",
    "ecr:BatchGetImage",
]
DOCUMENTED_NODE = ["ec2:Describe*", "route53:*", *DOCUMENTED_MASTER[3:]]


def _actions(document: dict[str, object]) -> list[str]:
    return [a for s in document["Statement"] for a in s["Action"]]  # type: ignore[attr-defined]


def test_there_are_samples() -> None:
    assert len(VALID) >= 4 and len(INVALID) >= 20


def test_kops_page_example_renders_exactly_the_documented_policies() -> None:
    result = plan_spec((ROOT / "kops-page-example.yaml").read_bytes())
    master, node = result.roles["master"], result.roles["node"]
    assert (result.cluster, result.region, result.partition) == (
        "example.k8s.dev",
        "eu-central-1",
        "aws",
    )
    assert set(result.roles) == {"master", "node"}
    assert _actions(master.inline_policies["masters.example.k8s.dev"]) == DOCUMENTED_MASTER
    assert list(master.inline_policies) == ["masters.example.k8s.dev"]
    assert _actions(node.inline_policies["nodes.example.k8s.dev"]) == DOCUMENTED_NODE
    additional = node.inline_policies["additional.nodes.example.k8s.dev"]
    assert _actions(additional) == ["dynamodb:*", "es:*"]
    assert [s["Resource"] for s in additional["Statement"]] == [["*"], ["*"]]


def test_bastion_sample_needs_the_operator_to_approve_ssm_sessions() -> None:
    with pytest.raises(SpecInvalid) as caught:
        plan_spec((ROOT / "bastion-all-roles.yaml").read_bytes(), Options())
    [issue] = caught.value.errors
    assert issue.path == "spec.additionalPolicies.bastion[0].Action[0]"
    assert issue.message.startswith("ssm:StartSession lets the role escalate its own privileges")


def test_bastion_sample_has_every_role_and_its_additions() -> None:
    result = plan_spec((ROOT / "bastion-all-roles.yaml").read_bytes(), OPTIONS)
    assert set(result.roles) == {"master", "node", "bastion"}
    for role in result.roles.values():
        assert f"additional.{role.role_name}" in role.inline_policies
        assert role.permissions_boundary == "arn:aws:iam::123456789012:policy/kops-boundary"


def test_china_sample_uses_aws_cn() -> None:
    result = plan_spec((ROOT / "china-region.yaml").read_bytes(), OPTIONS)
    text = json.dumps(result.to_dict())
    assert result.partition == "aws-cn"
    assert "arn:aws:" not in text and "ec2.amazonaws.com.cn" in text
    assert "arn:aws-cn:kms:cn-north-1:123456789012:key/0987dcba-09fe-87dc-65ba-ab0987654321" in text


def test_encrypted_etcd_sample_grants_kms_on_its_key() -> None:
    result = plan_spec((ROOT / "encrypted-etcd.yaml").read_bytes())
    master = result.roles["master"].inline_policies[result.roles["master"].role_name]
    kms = [s for s in master["Statement"] if s["Action"][0].startswith("kms:")]
    assert kms[0]["Resource"] == [
        "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
    ]


def _expected_path(path: Path) -> str:
    match = re.search(r"^# expect: (\S+)$", path.read_text(), re.MULTILINE)
    assert match, f"{path.name} must say '# expect: <field path>'"
    return match.group(1)


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.name)
def test_invalid_sample_fails_for_its_stated_reason(path: Path) -> None:
    expected = _expected_path(path)
    with pytest.raises(SpecInvalid) as caught:
        plan_spec(path.read_bytes(), OPTIONS)
    paths = [issue.path for issue in caught.value.errors]
    assert any(p == expected or p.startswith((expected + ".", expected + "[")) for p in paths), (
        f"{path.name}: expected an error at {expected}, got {paths}"
    )
    # one mistake per sample: all errors sit under the stated path
    assert all(p.startswith(expected) for p in paths), paths
