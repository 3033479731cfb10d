"""Golden file of spec validation: what kops-iam says about each wrong or doubtful field.

``tests/golden/spec/errors.txt`` holds, for every case below (a valid cluster document
with one thing changed, :func:`spec_builders.cluster_doc`), the errors and warnings
:func:`~kops_iam.domain.pipeline.validate_spec` reports, each with its field path, word
for word, with its code (``kops-iam validate --json``): they are what a user reads when a
spec is refused. ``make golden`` rewrites it.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from spec_builders import cluster_doc
from support.golden import GOLDEN, check

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.options import Options
from kops_iam.domain.pipeline import validate_spec

OUT = GOLDEN / "spec" / "errors.txt"
ACCOUNT = "123456789012"
POLICY = f"arn:aws:iam::{ACCOUNT}:policy/"
GRANT = json.dumps([{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}])


def _doc(**spec: Any) -> dict[str, Any]:
    return cluster_doc("test.k8s.example.com", **spec)


def _with(doc: dict[str, Any], **top: Any) -> dict[str, Any]:
    """``doc`` with top-level fields replaced (``None`` removes one)."""
    out = dict(doc)
    for key, value in top.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def _etcd(**member: Any) -> list[dict[str, Any]]:
    return [{"name": "main", "etcdMembers": [{"name": "a", **member}]}]


def _subnets(*zones: str, cidr: str = "10.0.{}.0/24") -> list[dict[str, Any]]:
    return [{"name": f"s{i}", "zone": zone, "cidr": cidr.format(i)} for i, zone in enumerate(zones)]


def _group(**metadata: Any) -> dict[str, Any]:
    return {
        "apiVersion": "kops.k8s.io/v1alpha2",
        "kind": "InstanceGroup",
        "metadata": metadata,
        "spec": {"role": "Node"},
    }


def _other(api: Any, kind: str | None = "InstanceGroup") -> dict[str, Any]:
    other = _group(name="nodes") | {"apiVersion": api}
    if kind is None:
        other.pop("kind")
    else:
        other["kind"] = kind
    return other


#: Cases whose file adds documents after the Cluster: name -> those documents.
GROUPS: dict[str, list[dict[str, Any]]] = {
    "documents: an API version that is no text": [_other(5)],
    "documents: a version kops.k8s.io never had": [_other("kops.k8s.io/v9")],
    "documents: a version the kops group never had": [_other("kops/v1alpha3")],
    "documents: a group path with a slash": [_other("kops.k8s.io/extra/v1alpha2")],
    "documents: an InstanceGroup of another API": [_other("example.com/v1")],
    "documents: a Cluster of another API": [_other("example.com/v1", "Cluster")],
    "documents: another kind of another API": [_other("v1", "ConfigMap")],
    "documents: no kind, another API": [_other("example.com/v1", None)],
    "documents: no API version": [_other(None)],
    "documents: no kind": [_other("kops.k8s.io/v1alpha2", None)],
    "documents: a second Cluster, then a group without a name": [
        _other("kops.k8s.io/v1alpha2", "Cluster"),
        _group(),
    ],
    "documents: a Cluster named by a number, a labelled group": [
        _group(name="nodes", labels={"kops.k8s.io/cluster": "test.k8s.example.com"})
    ],
    "documents: a group labelled for another cluster": [
        _group(name="nodes", labels={"kops.k8s.io/cluster": "other.k8s.example.com"})
    ],
    "documents: a group defined twice": [_group(name="nodes"), _group(name="nodes")],
    "an InstanceGroup without a name": [_group()],
    "an InstanceGroup with an empty name": [_group(name="")],
    "an InstanceGroup named by a number": [_group(name=7)],
    "a named InstanceGroup": [_group(name="nodes")],
}

#: name -> (document, options)
CASES: dict[str, tuple[dict[str, Any], Options | None]] = {
    # -- header
    "a valid spec": (_doc(), None),
    "an unknown apiVersion": (_with(_doc(), apiVersion="kops.k8s.io/v9"), None),
    "another kind": (_with(_doc(), kind="InstanceGroup"), None),
    "a name with capitals": (_with(_doc(), metadata={"name": "Test.Example.com"}), None),
    "a name with underscores": (_with(_doc(), metadata={"name": "my_cluster.example.com"}), None),
    "a name of 107 characters": (
        _with(_doc(), metadata={"name": "a" * 60 + "." + "b" * 46}),
        None,
    ),
    "a name of 106 characters": (
        _with(_doc(), metadata={"name": "a" * 60 + "." + "b" * 45}),
        None,
    ),
    "no spec": (_with(_doc(), spec=None), None),
    "no cloudProvider": (_doc(cloudProvider=None), None),
    "cloudProvider gce": (_doc(cloudProvider="gce"), None),
    "cloudProvider as a mapping": (_doc(cloudProvider={"aws": {}}), None),
    "cloudProvider as another mapping": (_doc(cloudProvider={"gce": {}, "aws": {}}), None),
    "cloudProvider as an empty mapping": (_doc(cloudProvider={}), None),
    "an error and a warning": (
        _doc(networkID="vpc-xyz", etcdClusters=_etcd(kmsKeyId="alias/a")),
        None,
    ),
    "a Cluster apiVersion that is no text": (_with(_doc(), apiVersion=5), None),
    "a Cluster without apiVersion, with a bastion": (
        _with(_doc(topology={"bastion": {}}), apiVersion=None),
        None,
    ),
    "a name of 253 characters": (
        _with(_doc(), metadata={"name": ".".join(["a" * 63] * 4)[:253]}),
        None,
    ),
    "a name of 254 characters": (
        _with(_doc(), metadata={"name": ".".join(["a" * 63] * 4)[:252] + "ab"}),
        None,
    ),
    "cloudProvider null": (
        _doc(cloudProvider=None) | {"spec": {**_doc()["spec"], "cloudProvider": None}},
        None,
    ),
    "a label key of one character": (_doc(cloudLabels={"a": "b"}), None),
    "a label key that is empty": (_doc(cloudLabels={"": "b"}), None),
    "two unknown role keys and two bad policies": (
        _doc(
            additionalPolicies={"workers": GRANT, "bosses": GRANT},
            externalPolicies={"node": ["x", "y"], "workers": [], "bosses": []},
        ),
        None,
    ),
    "an additional policy with an action newer than the catalogue": (
        _doc(
            additionalPolicies={
                "node": json.dumps(
                    [{"Effect": "Allow", "Action": "s3:DoTomorrow", "Resource": "*"}]
                )
            }
        ),
        None,
    ),
    "an additional policy with an error": (
        _doc(
            additionalPolicies={"node": json.dumps([{"Effect": "Allow", "Action": "s3:GetObject"}])}
        ),
        None,
    ),
    "a bastion not enabled, with a bastion policy": (
        _doc(
            topology={"bastion": {"enable": "yes"}},
            additionalPolicies={"bastion": GRANT},
        ),
        None,
    ),
    "a bastion declared, no Bastion group": (_doc(topology={"bastion": {}}), None),
    "no region, a policy of another partition": (
        _doc(subnets=[], externalPolicies={"node": [f"arn:aws-cn:iam::{ACCOUNT}:policy/a"]}),
        None,
    ),
    "a networkCIDR with host bits": (_doc(networkCIDR="10.0.0.1/16"), None),
    "additional CIDRs, one broken": (
        _doc(additionalNetworkCIDRs=["192.168.0.0/16", "10.1.0.0/33"]),
        None,
    ),
    "v1alpha3 networking with its own CIDRs": (
        _with(
            _doc(
                networkCIDR=None,
                networkID=None,
                networking={
                    "networkCIDR": "10.0.0.0/16",
                    "networkID": "vpc-0a1b2c3d",
                    "additionalNetworkCIDRs": ["192.168.0.0/16"],
                    "subnets": [{"name": "a", "zone": "eu-west-1a", "cidr": "192.168.1.0/24"}],
                },
                subnets=None,
            ),
            apiVersion="kops.k8s.io/v1alpha3",
        ),
        None,
    ),
    "v1alpha3 networking with a broken VPC id": (
        _with(
            _doc(networkID=None, networking={"networkID": "vpc-x"}),
            apiVersion="kops.k8s.io/v1alpha3",
        ),
        None,
    ),
    "zones instead of subnets": (
        _with(
            _doc(
                subnets=None,
                zones=[{"name": "eu-west-1a", "cidr": "10.0.1.0/24"}, {"name": "mars-1a"}],
            ),
            apiVersion="kops/v1alpha1",
        ),
        None,
    ),
    "zones outside the network": (
        _with(
            _doc(subnets=None, zones=[{"name": "eu-west-1a", "cidr": "192.168.1.0/24"}]),
            apiVersion="kops/v1alpha1",
        ),
        None,
    ),
    "subnets in two zones of one region, two broken": (
        _doc(subnets=[*_subnets("eu-west-1a", "mars-1a", "venus-2b")]),
        None,
    ),
    "configStore text that is no s3 URL": (_doc(configStore="s3://Bad_Bucket/c"), None),
    "configStore keypairs that is no s3 URL": (
        _doc(configStore={"base": "s3://bucket/c", "keypairs": "s3://Bad_Bucket/k"}),
        None,
    ),
    "strict, a key without encryptedVolume": (
        _doc(
            iam={"legacy": False},
            configBase="s3://bucket/c",
            etcdClusters=_etcd(kmsKeyId="alias/a"),
        ),
        None,
    ),
    # -- shapes: a field of the wrong type
    "subnets as text": (_doc(subnets="a"), None),
    "a subnet as a number": (_doc(subnets=[5]), None),
    "configStore as a number": (_doc(configStore=5), None),
    "configStore with a field of the wrong type": (_doc(configStore={"base": 5}), None),
    "networking as a list": (_doc(networking=[]), None),
    "topology.dns as a number": (_doc(topology={"dns": 5}), None),
    "cloudLabels with a list value": (_doc(cloudLabels={"team": [1]}), None),
    "etcdClusters as a mapping": (_doc(etcdClusters={"main": {}}), None),
    "iam.legacy as text": (_doc(iam={"legacy": "no"}), None),
    "externalPolicies as a list": (_doc(externalPolicies=["arn"]), None),
    # -- DNS
    "strict, a DNS type given as text": (
        _doc(iam={"legacy": False}, configBase="s3://bucket/c", topology={"dns": "Weird"}),
        None,
    ),
    "strict, an unknown DNS type": (
        _doc(
            iam={"legacy": False}, configBase="s3://bucket/c", topology={"dns": {"type": "Weird"}}
        ),
        None,
    ),
    "strict, a dnsZone that is no zone": (
        _doc(iam={"legacy": False}, configBase="s3://bucket/c", dnsZone="not a zone!"),
        None,
    ),
    # -- etcd and KMS
    "both kmsKeyID and kmsKeyId": (
        _doc(etcdClusters=_etcd(encryptedVolume=True, kmsKeyID="alias/a", kmsKeyId="alias/b")),
        None,
    ),
    "a key without encryptedVolume": (_doc(etcdClusters=_etcd(kmsKeyId="alias/a")), None),
    "a key ARN of another partition": (
        _doc(
            etcdClusters=_etcd(
                encryptedVolume=True, kmsKeyId=f"arn:aws-cn:kms:cn-north-1:{ACCOUNT}:key/k"
            )
        ),
        None,
    ),
    "a key that is no key": (_doc(etcdClusters=_etcd(encryptedVolume=True, kmsKeyId="nope")), None),
    # -- labels
    "a label key with a character IAM refuses": (_doc(cloudLabels={"team!": "a"}), None),
    "a label key IAM refuses for its length": (_doc(cloudLabels={"k" * 129: "a"}), None),
    "a label key of 128 characters": (_doc(cloudLabels={"k" * 128: "a"}), None),
    "reserved label keys": (
        _doc(cloudLabels={"Name": "a", "aws:x": "b", "KubernetesCluster": "c"}),
        None,
    ),
    "a label value of 257 characters": (_doc(cloudLabels={"team": "v" * 257}), None),
    "a label value of 256 characters": (_doc(cloudLabels={"team": "v" * 256}), None),
    "a label value with a character IAM refuses": (_doc(cloudLabels={"team": "a;b"}), None),
    "45 labels": (_doc(cloudLabels={f"k{i}": "v" for i in range(45)}), None),
    "46 labels": (_doc(cloudLabels={f"k{i}": "v" for i in range(46)}), None),
    # -- network
    "a VPC id that is no VPC id": (_doc(networkID="vpc-xyz"), None),
    "a VPC id of 17 hex digits": (_doc(networkID="vpc-0123456789abcdef0"), None),
    "a networkCIDR that is no CIDR": (_doc(networkCIDR="10.0.0.0/33"), None),
    "a subnet outside the network": (
        _doc(subnets=_subnets("eu-west-1a", cidr="192.168.{}.0/24")),
        None,
    ),
    "a subnet inside an additional network": (
        _doc(
            additionalNetworkCIDRs=["192.168.0.0/16"],
            subnets=_subnets("eu-west-1a", cidr="192.168.{}.0/24"),
        ),
        None,
    ),
    "a zone that is no AWS zone": (_doc(subnets=_subnets("mars-1a")), None),
    "no subnets": (_doc(subnets=[]), None),
    "zones in two regions": (
        _doc(subnets=_subnets("eu-west-1a", "us-east-1b", "eu-west-1b")),
        None,
    ),
    "subnets without zones": (_doc(subnets=[{"name": "a", "cidr": "10.0.1.0/24"}]), None),
    # -- roles
    "a bastion that is not enabled": (
        _doc(topology={"masters": "private", "nodes": "private", "bastion": {"enable": "yes"}}),
        None,
    ),
    "an additional policy for a role that is not there": (
        _doc(additionalPolicies={"bastion": GRANT}, externalPolicies={"bastion": [f"{POLICY}a"]}),
        None,
    ),
    # -- additionalPolicies and externalPolicies keys
    "an unknown role key": (_doc(additionalPolicies={"workers": GRANT}), None),
    "master and control-plane": (
        _doc(additionalPolicies={"master": GRANT, "control-plane": GRANT}),
        None,
    ),
    "11 managed policies": (
        _doc(externalPolicies={"node": [f"{POLICY}p{i}" for i in range(11)]}),
        None,
    ),
    "10 managed policies": (
        _doc(externalPolicies={"node": [f"{POLICY}p{i}" for i in range(10)]}),
        None,
    ),
    "a managed policy the operator does not allow": (
        _doc(externalPolicies={"node": [f"{POLICY}a", f"{POLICY}b"]}),
        Options(allowed_managed_policies=frozenset({f"{POLICY}a"})),
    ),
    "a managed policy listed twice": (
        _doc(externalPolicies={"node": [f"{POLICY}a", f"{POLICY}a"]}),
        None,
    ),
    "a managed policy that is no policy ARN": (
        _doc(externalPolicies={"master": ["AdministratorAccess"]}),
        None,
    ),
    "a managed policy of another partition": (
        _doc(externalPolicies={"master": [f"arn:aws-cn:iam::{ACCOUNT}:policy/a"]}),
        None,
    ),
    "a permissions boundary that is no policy ARN": (
        _doc(iam={"legacy": True, "permissionsBoundary": "boundary"}),
        None,
    ),
    # -- state store
    "a configBase that is no s3 URL": (_doc(configBase="s3://Bad_Bucket/c"), None),
    "a configBase with a wildcard": (_doc(configBase="s3://bucket/c*"), None),
    "a configBase with two dots": (_doc(configBase="s3://bu..cket/c"), None),
    "a keyStore elsewhere": (_doc(configBase="s3://bucket/c", keyStore="gs://other/pki"), None),
    "strict, a configStore that differs": (
        _doc(iam={"legacy": False}, configBase="s3://bucket/c", configStore="s3://other/c"),
        None,
    ),
    "strict, a keyStore kops 1.8 cannot grant": (
        _doc(iam={"legacy": False}, configBase="s3://bucket/c", keyStore="gs://other/pki"),
        None,
    ),
    **{name: (_doc(), None) for name in GROUPS},
    "documents: a Cluster named by a number, a labelled group": (
        _with(_doc(), metadata={"name": 7}),
        None,
    ),
    "strict, memfs stores": (
        _doc(iam={"legacy": False}, configBase="memfs://tests/c", keyStore="memfs://tests/pki"),
        None,
    ),
}


def render() -> str:
    out = []
    for name, (doc, options) in CASES.items():
        out.append(f"## {name}")
        text = json.dumps(doc)
        if name in GROUPS:  # a YAML stream: the Cluster, then its InstanceGroups
            text = yaml.safe_dump_all([doc, *GROUPS[name]], sort_keys=False)
        try:
            spec = validate_spec(text, options)
        except SpecInvalid as exc:
            out += [f"  ! {issue} [{issue.code}]" for issue in exc.errors]
            out += [f"  ~ {issue} [{issue.code}]" for issue in exc.warnings]
        else:
            roles = ", ".join(spec.roles)
            out.append(f"  = valid: {spec.partition} {spec.region}, roles {roles}")
            out += [f"  ~ {issue} [{issue.code}]" for issue in spec.warnings]
        out.append("")
    return "\n".join(out)


def test_each_spec_is_refused_or_warned_about_as_its_golden_file_says() -> None:
    check(OUT, render())
