"""The spec's shapes (pydantic): only the fields kops-iam uses, strictly typed; the rest is
ignored. Each ``spec.*`` field is validated on its own, so one bad field hides no other error."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, Final

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, TypeAdapter, ValidationError

from kops_iam.domain.errors import Issue, join_path
from kops_iam.domain.spec.checks import SpecChecks


class _Shape(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Metadata(_Shape):
    name: StrictStr


class Zone(_Shape):
    """v1alpha1 ``spec.zones[]``."""

    name: StrictStr
    cidr: StrictStr | None = None


class Subnet(_Shape):
    """v1alpha2/3 ``subnets[]``."""

    name: StrictStr | None = None
    zone: StrictStr | None = None
    cidr: StrictStr | None = None


class EtcdMember(_Shape):
    name: StrictStr | None = None
    encryptedVolume: StrictBool | None = None
    kmsKeyId: StrictStr | None = None
    kmsKeyID: StrictStr | None = None


class EtcdCluster(_Shape):
    name: StrictStr | None = None
    etcdMembers: list[EtcdMember] = []


class TopologyDNS(_Shape):
    type: StrictStr | None = None


class Topology(_Shape):
    bastion: dict[str, Any] | None = None
    #: v1alpha2 ``dns: {type: Public}``; v1alpha3 ``dns: Public``.
    dns: TopologyDNS | StrictStr | None = None


class Networking(_Shape):
    """v1alpha3 ``spec.networking`` (in v1alpha2 it holds the CNI choice and is ignored)."""

    networkCIDR: StrictStr | None = None
    networkID: StrictStr | None = None
    additionalNetworkCIDRs: list[StrictStr] = []
    subnets: list[Subnet] | None = None
    topology: Topology | None = None


class IAMSpec(_Shape):
    permissionsBoundary: StrictStr | None = None
    legacy: StrictBool | None = None
    allowContainerRegistry: StrictBool | None = None


class ConfigStore(_Shape):
    """v1alpha3 ``spec.configStore``."""

    base: StrictStr | None = None
    keypairs: StrictStr | None = None
    secrets: StrictStr | None = None


#: ``spec.*`` fields used, each validated on its own so one bad field hides no other error.
SPEC_FIELDS: Final[dict[str, Any]] = {
    "cloudProvider": StrictStr | dict[StrictStr, Any],
    "configBase": StrictStr,
    "keyStore": StrictStr,
    "secretStore": StrictStr,
    "configStore": StrictStr | ConfigStore,
    "networkCIDR": StrictStr,
    "networkID": StrictStr,
    "dnsZone": StrictStr,
    "nonMasqueradeCIDR": StrictStr,
    "additionalNetworkCIDRs": list[StrictStr],
    "zones": list[Zone],
    "subnets": list[Subnet],
    "topology": Topology,
    "networking": Networking | dict[StrictStr, Any],
    "etcdClusters": list[EtcdCluster],
    "additionalPolicies": dict[StrictStr, Any],
    "externalPolicies": dict[StrictStr, list[StrictStr]],
    "iam": IAMSpec,
    "cloudLabels": dict[StrictStr, StrictStr],
}


@cache
def field_adapter(name: str) -> TypeAdapter[Any]:
    """The (cached) pydantic adapter of one ``spec.*`` field."""
    return TypeAdapter(SPEC_FIELDS[name])


def pydantic_issues(base: str, error: ValidationError) -> list[Issue]:
    """pydantic's errors as issues at their field paths under ``base``."""
    issues = []
    for item in error.errors(include_url=False):
        parts = [p for p in item["loc"] if not (isinstance(p, str) and _is_union_tag(p))]
        issues.append(Issue(join_path(base, *parts), item["msg"], item["type"]))
    return issues


def _is_union_tag(part: str) -> bool:
    # pydantic names union branches in error locations ("str", "ConfigStore", "dict[str,any]").
    return part in {"str", "ConfigStore", "Networking", "TopologyDNS"} or part.startswith(
        ("dict[", "list[")
    )


def shape(checks: SpecChecks, spec: Mapping[str, Any]) -> None:
    """Type every ``spec.*`` field kops-iam uses into ``checks.fields``; report the rest."""
    for key in SPEC_FIELDS:
        if key not in spec or spec[key] is None:
            continue
        try:
            checks.fields[key] = field_adapter(key).validate_python(spec[key])
        except ValidationError as exc:
            checks.errors.extend(pydantic_issues(join_path("spec", key), exc))
