"""Inputs of several documents: one Cluster, its InstanceGroups, the other kinds kops writes,
every apiVersion kops wrote, and the roles the InstanceGroups decide (docs/adr/0090)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from specs import cluster_doc

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.parsing import MAX_ALIAS_NODES, MAX_DOCUMENTS, parse_documents
from kops_iam.domain.pipeline import plan_spec, validate_objects, validate_spec

CLUSTER = "test.k8s.example.com"


def ig(name: str, role: str, *, cluster: str | None = CLUSTER, **spec: Any) -> dict[str, Any]:
    labels = {"kops.k8s.io/cluster": cluster} if cluster else {}
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "InstanceGroup",
        "metadata": {"name": name, "labels": labels},
        "spec": {"role": role, **spec},
    }


def stream(*documents: dict[str, Any]) -> bytes:
    return "\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in documents).encode()


def errors(data: bytes) -> dict[str, str]:
    with pytest.raises(SpecInvalid) as caught:
        validate_spec(data)
    return {e.path: e.message for e in caught.value.errors}


def warnings(data: bytes) -> dict[str, str]:
    return {w.path: w.message for w in validate_spec(data).warnings}


MASTER, NODES = ig("master-a", "Master"), ig("nodes", "Node")


# -- parsing: the whole file under every limit ---------------------------------------------


def test_documents_get_their_index_and_empty_ones_are_skipped() -> None:
    parsed = parse_documents(b"---\na: 1\n---\n---\nb: 2\n")
    assert parsed == [("documents[0]", {"a": 1}), ("documents[2]", {"b": 2})]
    assert parse_documents(b"a: 1\n---\n") == [("", {"a": 1})]


def test_problems_of_each_document_are_reported_at_its_path() -> None:
    with pytest.raises(SpecInvalid) as caught:
        parse_documents(b"a: 1\n---\nb: 1\nb: 2\n---\n- x\n", path="instancegroup/n")
    assert [e.path for e in caught.value.errors] == [
        "instancegroup/n.documents[1].b",
        "instancegroup/n.documents[2]",
    ]


def test_the_alias_budget_is_shared_by_the_whole_file() -> None:
    # Given documents that each stay under the limit but together pass it
    bomb = "a: &a [" + ", ".join(["x"] * 100) + "]\nb: [" + ", ".join(["*a"] * 100) + "]\n"
    count = MAX_ALIAS_NODES // 10_000 + 1
    with pytest.raises(SpecInvalid) as caught:
        parse_documents("---\n".join([bomb] * count))
    # Then the file is refused as a whole
    assert "the file expands to more than 100,000 nodes" in str(caught.value)
    assert len(parse_documents(bomb)) == 1


def test_documents_per_file_are_bounded() -> None:
    with pytest.raises(SpecInvalid, match=f"more than {MAX_DOCUMENTS:,} documents"):
        parse_documents("a: 1\n---\n" * (MAX_DOCUMENTS + 1))


def test_size_cap_is_for_the_whole_file() -> None:
    with pytest.raises(SpecInvalid, match="over the limit"):
        parse_documents(b"a: 1\n---\n" * 10, max_bytes=50)


# -- kinds and versions --------------------------------------------------------------------


@pytest.mark.parametrize(
    "api",
    [
        "kops/v1alpha1",
        "kops/v1alpha2",
        "kops.k8s.io/v1alpha1",
        "kops.k8s.io/v1alpha2",
        "kops.k8s.io/v1alpha3",
        None,
    ],
)
def test_every_api_version_kops_wrote_is_read(api: str | None) -> None:
    cluster, nodes = cluster_doc(), dict(NODES)
    for doc in (cluster, nodes):
        doc.pop("apiVersion")
        if api:
            doc["apiVersion"] = api
    spec = validate_spec(stream(cluster, MASTER, nodes))
    assert [g.name for g in spec.instance_groups] == ["master-a", "nodes"]


@pytest.mark.parametrize("api", ["kops/v1alpha3", "kops.k8s.io/v1", "apps/v1"])
def test_api_versions_kops_never_wrote_are_errors(api: str) -> None:
    doc = cluster_doc()
    doc["apiVersion"] = api
    assert "documents[0].apiVersion" in errors(stream(doc, MASTER))


def test_exactly_one_cluster() -> None:
    assert "documents[1].kind" in errors(stream(cluster_doc(), cluster_doc()))
    assert "" in errors(stream(MASTER, NODES))


def test_ssh_credential_is_a_warning_keyset_an_error_as_in_kops_create() -> None:
    ssh = {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "SSHCredential",
        "spec": {"publicKey": "k"},
    }
    assert "no effect on IAM" in warnings(stream(cluster_doc(), ssh))["documents[1].kind"]
    keyset = {"apiVersion": "kops.k8s.io/v1alpha2", "kind": "Keyset", "spec": {}}
    assert "Unhandled kind" in errors(stream(cluster_doc(), keyset))["documents[1].kind"]
    other = {"apiVersion": "v1", "kind": "ConfigMap", "data": {}}
    assert "not a kops object" in warnings(stream(cluster_doc(), other))["documents[1]"]


def test_an_instance_group_of_another_cluster_is_an_error() -> None:
    found = errors(stream(cluster_doc(), ig("nodes", "Node", cluster="other.example.com")))
    assert "another cluster" in found["documents[1].metadata.labels.kops.k8s.io/cluster"]
    # without the label it is taken as the file's
    validate_spec(stream(cluster_doc(), ig("nodes", "Node", cluster=None), MASTER))


@pytest.mark.parametrize(
    ("role", "message"),
    [(None, "required"), ("node", "case matters"), ("APIServer", "kops 1.8.0's roles")],
)
def test_instance_group_roles_are_kops_ones(role: str | None, message: str) -> None:
    group = ig("g", "x")
    group["spec"].pop("role")
    if role is not None:
        group["spec"]["role"] = role
    assert message in errors(stream(cluster_doc(), group))["documents[1].spec.role"]


def test_instance_group_names_are_unique() -> None:
    found = errors(stream(cluster_doc(), NODES, ig("nodes", "Bastion"), MASTER))
    assert "defined twice" in found["documents[2].metadata.name"]


def test_cluster_errors_carry_the_document_index() -> None:
    doc = cluster_doc(networkCIDR="not a cidr")
    assert "documents[0].spec.networkCIDR" in errors(stream(doc, MASTER, NODES))
    assert "spec.networkCIDR" in errors(json.dumps(doc).encode())


def test_instance_group_iam_profile_of_later_kops_is_named_in_a_warning() -> None:
    group = ig("nodes", "Node", iam={"profile": "arn:aws:iam::123456789012:instance-profile/x"})
    assert "documents[2].spec.iam.profile" in warnings(stream(cluster_doc(), MASTER, group))


# -- the roles the InstanceGroups decide ---------------------------------------------------


def roles(data: bytes) -> list[str]:
    return list(plan_spec(data).roles)


def test_a_bastion_instance_group_makes_the_bastion_role() -> None:
    assert roles(stream(cluster_doc(), MASTER, NODES, ig("bastions", "Bastion"))) == [
        "master",
        "node",
        "bastion",
    ]
    assert roles(stream(cluster_doc(), MASTER, NODES)) == ["master", "node"]


def test_with_instance_groups_topology_bastion_alone_makes_no_bastion() -> None:
    doc = cluster_doc(topology={"bastion": {"bastionPublicName": "b.example.com"}})
    spec = validate_spec(stream(doc, MASTER, NODES))
    assert not spec.has_bastion
    assert (
        "no InstanceGroup has role: Bastion"
        in {w.path: w.message for w in spec.warnings}["documents[0].spec.topology.bastion"]
    )


def test_masters_and_nodes_stay_when_the_instance_groups_lack_one() -> None:
    spec = validate_spec(stream(cluster_doc(), NODES))
    assert spec.roles == ("master", "node") and not spec.warnings
    assert validate_spec(stream(cluster_doc(), ig("b", "Bastion"))).roles == (
        "master",
        "node",
        "bastion",
    )


@pytest.mark.parametrize(
    ("api", "bastion", "expected"),
    [
        ("kops/v1alpha1", {"enable": True}, True),
        ("kops/v1alpha1", {"enable": False}, False),
        ("kops/v1alpha1", {"machineType": "t2.micro"}, False),  # enable defaults to false
        (None, {"machineType": "t2.micro"}, False),  # read as v1alpha1, as kops did
        (None, {"enable": True}, True),
        ("kops.k8s.io/v1alpha2", {"bastionPublicName": "b.example.com"}, True),
        ("kops.k8s.io/v1alpha2", {"enable": False}, False),
    ],
)
def test_a_cluster_alone_says_whether_it_has_a_bastion(
    api: str | None, bastion: dict[str, Any], expected: bool
) -> None:
    doc = cluster_doc(topology={"bastion": bastion})
    doc.pop("apiVersion")
    if api:
        doc["apiVersion"] = api
    assert validate_spec(json.dumps(doc).encode()).has_bastion is expected


def test_a_bastion_policy_without_a_bastion_warns_and_is_not_applied() -> None:
    policy = json.dumps([{"Effect": "Allow", "Action": "ssm:DescribeSessions", "Resource": "*"}])
    doc = cluster_doc(additionalPolicies={"bastion": policy})
    plan = plan_spec(stream(doc, MASTER, NODES))
    assert "bastion" not in plan.roles
    assert any("spec.additionalPolicies.bastion" in w for w in plan.warnings)
    with_bastion = plan_spec(stream(doc, MASTER, NODES, ig("b", "Bastion")))
    assert (
        "additional.bastions.test.k8s.example.com" in with_bastion.roles["bastion"].inline_policies
    )


def test_state_store_objects_are_read_together() -> None:
    # Given the Cluster at <cluster>/config and its InstanceGroups as separate objects
    spec = validate_objects(
        [
            ("", json.dumps(cluster_doc()).encode()),
            ("instancegroup/master-a", yaml.safe_dump(MASTER).encode()),
            ("instancegroup/bastion", yaml.safe_dump(ig("bastion", "Bastion")).encode()),
        ]
    )
    assert spec.has_bastion and spec.source == ""
    # Then an error in one of them is reported at that object
    with pytest.raises(SpecInvalid) as caught:
        validate_objects(
            [
                ("", json.dumps(cluster_doc()).encode()),
                ("instancegroup/bad", yaml.safe_dump(ig("bad", "Nodes")).encode()),
            ]
        )
    assert [e.path for e in caught.value.errors] == ["instancegroup/bad.spec.role"]
