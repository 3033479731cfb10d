"""Cluster spec: the kops ``Cluster`` shapes users have on disk, validated into one model.

Accepts kops API versions v1alpha1 (``zones``), v1alpha2 (``subnets``,
``etcdMembers[].kmsKeyId``) and v1alpha3 (``networking.*``, ``kmsKeyID``,
``cloudProvider: {aws: {}}``), in both API groups kops used (``kops``, ``kops.k8s.io``),
and inputs of several documents (:mod:`.documents`: one Cluster and its InstanceGroups,
whose roles decide the cluster's, :mod:`.roles`). Fields kops-iam does not use are
ignored; the ones it uses are typed strictly with pydantic (:mod:`.shapes`), then checked
for meaning, one module per rule area: :mod:`.header` (apiVersion, kind, name, cloud
provider), :mod:`.network` (CIDRs, zones, region), :mod:`.etcd` (KMS keys), :mod:`.stores`
(state store), :mod:`.role_policies` (additional and external policies, boundary) and
:mod:`.labels` (cloudLabels); strict IAM's own inputs in :func:`strict_spec`. Every error
is reported at once, each with its field path; :func:`validate` raises :class:`SpecInvalid`
with all of them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

from kops_iam.domain import lookups
from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.lookups import GOSSIP_SUFFIX, HostedZoneQuery
from kops_iam.domain.naming import partition_for_region
from kops_iam.domain.options import Options
from kops_iam.domain.spec import etcd, header, labels, network, role_policies, roles, stores
from kops_iam.domain.spec.checks import SpecChecks, StatementChecker
from kops_iam.domain.spec.documents import InstanceGroup, SourceDocument, sort_documents
from kops_iam.domain.spec.header import API_GROUP, API_VERSIONS
from kops_iam.domain.spec.labels import MAX_TAGS_PER_ROLE
from kops_iam.domain.spec.model import (
    CLUSTER_TAG_PREFIX,
    MAX_TAG_KEY,
    ClusterSpec,
    IamMode,
    KmsKeyRef,
    S3Path,
    StrictSpec,
)
from kops_iam.domain.spec.role_policies import MAX_MANAGED_POLICIES_PER_ROLE, ROLE_KEYS
from kops_iam.domain.spec.shapes import IAMSpec, shape

__all__ = [
    "API_GROUP",
    "API_VERSIONS",
    "CLUSTER_TAG_PREFIX",
    "MAX_MANAGED_POLICIES_PER_ROLE",
    "MAX_TAGS_PER_ROLE",
    "MAX_TAG_KEY",
    "ROLE_KEYS",
    "ClusterSpec",
    "InstanceGroup",
    "KmsKeyRef",
    "S3Path",
    "SourceDocument",
    "StatementChecker",
    "sort_documents",
    "validate",
    "validate_documents",
]


def validate(
    document: Mapping[str, Any],
    options: Options | None = None,
    *,
    check_statements: StatementChecker | None = None,
    instance_groups: Sequence[InstanceGroup] = (),
    source: str = "",
    extra_errors: Sequence[Issue] = (),
    extra_warnings: Sequence[Issue] = (),
) -> ClusterSpec:
    """Validate a parsed Cluster document (and what its InstanceGroups say).

    Parameters
    ----------
    document
        The Cluster's top-level mapping (from :mod:`kops_iam.domain.parsing`).
    options
        Operator decisions (allowed escalation actions, enforced boundary, ...).
    check_statements
        The ``additionalPolicies`` checker; defaults to
        :func:`kops_iam.domain.additional_policies.check_additional_policy`.
    instance_groups
        The cluster's InstanceGroups (:mod:`.documents`); none: the Cluster alone.
    source
        The Cluster document's path in its file (``documents[0]``), prefixed to its issues.
    extra_errors, extra_warnings
        Issues found in the other documents, reported with this document's.

    Returns
    -------
    ClusterSpec
        The validated model, with warnings.

    Raises
    ------
    SpecInvalid
        With every error found, each naming its field path.
    """
    checks = SpecChecks(document, options or Options(), check_statements)
    try:
        spec = _validate(checks, instance_groups, source)
    except SpecInvalid as exc:
        raise SpecInvalid(
            [*_under(source, exc.errors), *extra_errors],
            [*_under(source, exc.warnings), *extra_warnings],
        ) from None
    warnings = (*_under(source, spec.warnings), *extra_warnings)
    if extra_errors:
        raise SpecInvalid(extra_errors, warnings)
    return dataclasses.replace(spec, warnings=tuple(warnings))


def _under(source: str, issues: Sequence[Issue]) -> list[Issue]:
    if not source:
        return list(issues)
    return [dataclasses.replace(i, path=f"{source}.{i.path}" if i.path else source) for i in issues]


def _validate(
    checks: SpecChecks, instance_groups: Sequence[InstanceGroup], source: str
) -> ClusterSpec:
    document = checks.doc
    api_version = header.api_version(checks)
    name = header.cluster_name(checks)
    spec = document.get("spec")
    if not isinstance(spec, Mapping):
        checks.error("spec", "required: a mapping with the cluster's spec")
        raise SpecInvalid(checks.errors, checks.warnings)
    shape(checks, spec)
    header.cloud_provider(checks)
    networking = network.networking_fields(checks)
    region = network.network(checks, networking)
    partition = partition_for_region(region) if region else "aws"
    mode = iam_mode(checks)
    kms_keys = etcd.etcd_keys(checks, partition, strict=mode == "strict")
    state_store = stores.state_store_paths(checks)
    additional = role_policies.additional_policies(checks, partition)
    external = role_policies.external_policies(checks, partition)
    boundary = role_policies.boundary(checks, partition)
    cloud_labels = labels.cloud_labels(checks)
    cluster_roles = roles.roles(checks, networking, instance_groups, additional, external)
    strict = strict_spec(checks, name, networking, spec) if mode == "strict" else None
    if checks.errors:
        raise SpecInvalid(checks.errors, checks.warnings)
    assert name is not None and region is not None
    return ClusterSpec(
        name=name,
        api_version=api_version,
        region=region,
        partition=partition,
        kms_keys=kms_keys,
        state_store=state_store,
        additional_policies=additional,
        external_policies=external,
        permissions_boundary=boundary,
        cloud_labels=cloud_labels,
        warnings=tuple(checks.warnings),
        roles=cluster_roles,
        instance_groups=tuple(instance_groups),
        iam_mode=mode,
        strict=strict,
        source=source,
    )


def iam_mode(checks: SpecChecks) -> IamMode:
    """kops 1.8's reading (docs/adr/0091): no ``iam`` block (or ``iam: null``) is legacy;
    a block is strict unless it says ``legacy: true``."""
    iam = checks.fields.get("iam")
    if not isinstance(iam, IAMSpec):
        return "legacy"
    return "legacy" if iam.legacy is True else "strict"


_ZONE_ID = re.compile(r"^[A-Za-z0-9]{1,32}$")
#: ``topology.dns.type``: kops 1.8 knew Public and Private; kops 1.27 added None (no DNS).
DNS_TYPES = ("Public", "Private", "None")


def strict_spec(
    checks: SpecChecks, name: str | None, net: dict[str, Any], spec: Mapping[str, Any]
) -> StrictSpec:
    """What kops 1.8.0's strict builder reads: ECR, the hosted zone, stores, CNI."""
    iam = checks.fields.get("iam")
    container_registry = isinstance(iam, IAMSpec) and iam.allowContainerRegistry is True
    zone_id: str | None = None
    query: HostedZoneQuery | None = None
    topology = net.get("topology")
    dns = topology[1].dns if topology is not None else None
    dns_type = dns if isinstance(dns, str) or dns is None else dns.type
    if topology is not None and dns_type is not None and dns_type not in DNS_TYPES:
        path = f"{topology[0]}.dns" + ("" if isinstance(dns, str) else ".type")
        checks.error(path, f"{dns_type!r}: expected " + ", ".join(DNS_TYPES))
    private = dns_type == "Private"
    dns_zone = checks.fields.get("dnsZone")
    # Gossip (*.k8s.local) and, from kops 1.27, dns type None: no hosted zone.
    if name is not None and not name.endswith(GOSSIP_SUFFIX) and dns_type != "None":
        if dns_zone and "." not in dns_zone:
            zone_id = lookups.zone_id(dns_zone)
            if not _ZONE_ID.match(zone_id):
                checks.error("spec.dnsZone", f"{dns_zone!r} is neither a hosted zone id nor a name")
        else:
            query = HostedZoneQuery(
                name=dns_zone or name, exact=bool(dns_zone), private=private, path="spec.dnsZone"
            )
    networking = spec.get("networking")
    cni = networking if isinstance(networking, Mapping) else {}
    return StrictSpec(
        container_registry=container_registry,
        hosted_zone_id=zone_id,
        hosted_zone=query,
        store=stores.strict_store(checks),
        romana=cni.get("romana") is not None,
        kuberouter=cni.get("kuberouter") is not None,
    )


def validate_documents(
    documents: Sequence[SourceDocument],
    options: Options | None = None,
    *,
    check_statements: StatementChecker | None = None,
) -> ClusterSpec:
    """Validate an input of one or more documents: one Cluster and its InstanceGroups.

    Raises
    ------
    SpecInvalid
        With every error found in any document, each at its document's path.
    """
    found = sort_documents(documents)
    if found.cluster is None:
        raise SpecInvalid(found.errors, found.warnings)
    return validate(
        found.cluster.body,
        options,
        check_statements=check_statements,
        instance_groups=found.instance_groups,
        source=found.cluster.path,
        extra_errors=found.errors,
        extra_warnings=found.warnings,
    )
