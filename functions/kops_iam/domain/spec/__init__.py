"""Cluster spec: the kops ``Cluster`` shapes users have on disk, validated into one model.

Accepts kops API versions v1alpha1 (``zones``), v1alpha2 (``subnets``,
``etcdMembers[].kmsKeyId``) and v1alpha3 (``networking.*``, ``kmsKeyID``,
``cloudProvider: {aws: {}}``). Fields kops-iam does not use are ignored; the ones it uses
are typed strictly with pydantic (:mod:`.shapes`), then checked for meaning, one module per
rule area: :mod:`.header` (apiVersion, kind, name, cloud provider), :mod:`.network`
(CIDRs, zones, region), :mod:`.etcd` (KMS keys), :mod:`.stores` (state store),
:mod:`.role_policies` (additional and external policies, boundary, bastion) and
:mod:`.labels` (cloudLabels). Every error is reported at once, each with its field path;
:func:`validate` raises :class:`SpecInvalid` with all of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kops_iam.domain.errors import SpecInvalid
from kops_iam.domain.naming import partition_for_region
from kops_iam.domain.options import Options
from kops_iam.domain.spec import etcd, header, labels, network, role_policies, stores
from kops_iam.domain.spec.checks import SpecChecks, StatementChecker
from kops_iam.domain.spec.header import API_GROUP, API_VERSIONS
from kops_iam.domain.spec.labels import MAX_TAGS_PER_ROLE
from kops_iam.domain.spec.model import (
    CLUSTER_TAG_PREFIX,
    MAX_TAG_KEY,
    ClusterSpec,
    KmsKeyRef,
    S3Path,
)
from kops_iam.domain.spec.role_policies import MAX_MANAGED_POLICIES_PER_ROLE, ROLE_KEYS
from kops_iam.domain.spec.shapes import shape

__all__ = [
    "API_GROUP",
    "API_VERSIONS",
    "CLUSTER_TAG_PREFIX",
    "MAX_MANAGED_POLICIES_PER_ROLE",
    "MAX_TAGS_PER_ROLE",
    "MAX_TAG_KEY",
    "ROLE_KEYS",
    "ClusterSpec",
    "KmsKeyRef",
    "S3Path",
    "StatementChecker",
    "validate",
]


def validate(
    document: Mapping[str, Any],
    options: Options | None = None,
    *,
    check_statements: StatementChecker | None = None,
) -> ClusterSpec:
    """Validate a parsed spec document.

    Parameters
    ----------
    document
        The top-level mapping from :func:`kops_iam.domain.parsing.parse_document`.
    options
        Operator decisions (allowed escalation actions, enforced boundary, ...).
    check_statements
        The ``additionalPolicies`` checker; defaults to
        :func:`kops_iam.domain.additional_policies.check_additional_policy`.

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
    kms_keys = etcd.etcd_keys(checks, partition)
    state_store = stores.state_store_paths(checks)
    additional = role_policies.additional_policies(checks, partition)
    external = role_policies.external_policies(checks, partition)
    boundary = role_policies.boundary(checks, partition)
    cloud_labels = labels.cloud_labels(checks)
    has_bastion = role_policies.has_bastion(checks, networking, additional, external)
    if checks.errors:
        raise SpecInvalid(checks.errors, checks.warnings)
    assert name is not None and region is not None
    return ClusterSpec(
        name=name,
        api_version=api_version,
        region=region,
        partition=partition,
        has_bastion=has_bastion,
        kms_keys=kms_keys,
        state_store=state_store,
        additional_policies=additional,
        external_policies=external,
        permissions_boundary=boundary,
        cloud_labels=cloud_labels,
        warnings=tuple(checks.warnings),
    )
