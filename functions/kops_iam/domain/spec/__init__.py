"""Cluster spec: the kops ``Cluster`` shapes users have on disk, validated into one model.

Accepts kops API versions v1alpha1 (``zones``), v1alpha2 (``subnets``,
``etcdMembers[].kmsKeyId``) and v1alpha3 (``networking.*``, ``kmsKeyID``,
``cloudProvider: {aws: {}}``). Fields kops-iam does not use are ignored; the ones it uses
are typed strictly with pydantic, then checked for meaning. Every error is reported at
once, each with its field path; :func:`validate` raises :class:`SpecInvalid` with all of
them.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, TypeAdapter, ValidationError

from kops_iam.domain.errors import Issue, SpecInvalid, join_path
from kops_iam.domain.model import JSONDict, RoleKind
from kops_iam.domain.naming import OWN_TAG_KEYS, partition_for_region
from kops_iam.domain.options import Options

API_GROUP: Final = "kops.k8s.io"
API_VERSIONS: Final = ("v1alpha1", "v1alpha2", "v1alpha3")
MAX_MANAGED_POLICIES_PER_ROLE: Final = 10
MAX_TAGS_PER_ROLE: Final = 50
MAX_TAG_KEY: Final = 128
#: kops tags every role ``kubernetes.io/cluster/<cluster name>=owned``.
CLUSTER_TAG_PREFIX: Final = "kubernetes.io/cluster/"

#: additionalPolicies / externalPolicies keys and the role each names.
ROLE_KEYS: Final[dict[str, RoleKind]] = {
    "master": "master",
    "control-plane": "master",
    "node": "node",
    "bastion": "bastion",
}

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_ZONE = re.compile(r"^(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)(?:-[a-z0-9]+-\d+)?[a-z]$")
_KMS_KEY_ID = re.compile(
    r"^(?:mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)
_KMS_KEY_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):kms:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):"
    r"key/(?P<id>[0-9a-f-]+|mrk-[0-9a-f]{32})$"
)
_KMS_ALIAS = re.compile(r"^alias/[a-zA-Z0-9/_-]{1,250}$")
_KMS_ALIAS_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):kms:[a-z0-9-]+:\d{12}:alias/[a-zA-Z0-9/_-]{1,250}$"
)
_MANAGED_POLICY_ARN = re.compile(
    r"^arn:(?P<partition>aws|aws-cn|aws-us-gov):iam::(?P<account>\d{12}|aws):policy/"
    r"(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$",
    re.ASCII,
)
#: State-store paths become ARNs in the policies: printable ASCII only, no spaces or wildcards.
_S3_URL = re.compile(
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<path>[!-~]*?))?/?$", re.ASCII
)
_S3_PATH_FORBIDDEN = frozenset("*?$\\")
_TAG_CHARS = re.compile(r"^[\w .:/=+@-]*$", re.UNICODE)
_RESERVED_TAG_KEYS: Final = ("Name", "KubernetesCluster")
_RESERVED_TAG_PREFIXES: Final = ("aws:", CLUSTER_TAG_PREFIX, "kops-iam/")


# --------------------------------------------------------------------------------------
# Shapes (pydantic): only the fields kops-iam uses, strictly typed; the rest is ignored.
# --------------------------------------------------------------------------------------


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


class Topology(_Shape):
    bastion: dict[str, Any] | None = None


class Networking(_Shape):
    """v1alpha3 ``spec.networking`` (in v1alpha2 it holds the CNI choice and is ignored)."""

    networkCIDR: StrictStr | None = None
    networkID: StrictStr | None = None
    additionalNetworkCIDRs: list[StrictStr] = []
    subnets: list[Subnet] | None = None
    topology: Topology | None = None


class IAMSpec(_Shape):
    permissionsBoundary: StrictStr | None = None


class ConfigStore(_Shape):
    """v1alpha3 ``spec.configStore``."""

    base: StrictStr | None = None
    keypairs: StrictStr | None = None
    secrets: StrictStr | None = None


#: ``spec.*`` fields used, each validated on its own so one bad field hides no other error.
_SPEC_FIELDS: Final[dict[str, Any]] = {
    "cloudProvider": StrictStr | dict[StrictStr, Any],
    "configBase": StrictStr,
    "keyStore": StrictStr,
    "secretStore": StrictStr,
    "configStore": StrictStr | ConfigStore,
    "networkCIDR": StrictStr,
    "networkID": StrictStr,
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
def _adapter(name: str) -> TypeAdapter[Any]:
    return TypeAdapter(_SPEC_FIELDS[name])


def _pydantic_issues(base: str, error: ValidationError) -> list[Issue]:
    issues = []
    for item in error.errors(include_url=False):
        parts = [p for p in item["loc"] if not (isinstance(p, str) and _is_union_tag(p))]
        issues.append(Issue(join_path(base, *parts), item["msg"]))
    return issues


def _is_union_tag(part: str) -> bool:
    # pydantic names union branches in error locations ("str", "ConfigStore", "dict[str,any]").
    return part in {"str", "ConfigStore", "Networking"} or part.startswith(("dict[", "list["))


# --------------------------------------------------------------------------------------
# The validated model.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class KmsKeyRef:
    """A ``kmsKeyId`` of an encrypted etcd volume, as written, with where it was written."""

    path: str
    value: str
    form: Literal["arn", "id", "alias"]


@dataclass(frozen=True)
class S3Path:
    """An ``s3://bucket/path`` state-store location."""

    bucket: str
    path: str


@dataclass(frozen=True)
class ClusterSpec:
    """What kops-iam needs to know about a cluster, validated."""

    name: str
    api_version: str
    region: str
    partition: str
    has_bastion: bool
    kms_keys: tuple[KmsKeyRef, ...]
    state_store: tuple[S3Path, ...]
    #: role -> (field path, validated statements)
    additional_policies: Mapping[RoleKind, tuple[str, tuple[JSONDict, ...]]]
    external_policies: Mapping[RoleKind, tuple[str, ...]]
    permissions_boundary: str | None
    cloud_labels: Mapping[str, str]
    warnings: tuple[Issue, ...] = field(default=())


StatementChecker = Callable[..., tuple[list[JSONDict], list[Issue]]]


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
    return _Validator(document, options or Options(), check_statements).run()


class _Validator:
    """One validation run: collects every error and warning, then decides."""

    def __init__(
        self,
        document: Mapping[str, Any],
        options: Options,
        check_statements: StatementChecker | None,
    ) -> None:
        self.doc = document
        self.options = options
        self.check_statements = check_statements
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.fields: dict[str, Any] = {}

    def error(self, path: str, message: str) -> None:
        self.errors.append(Issue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.warnings.append(Issue(path, message))

    # -- entry point ---------------------------------------------------------------

    def run(self) -> ClusterSpec:
        api_version = self._api_version()
        name = self._name()
        spec = self.doc.get("spec")
        if not isinstance(spec, Mapping):
            self.error("spec", "required: a mapping with the cluster's spec")
            raise SpecInvalid(self.errors, self.warnings)
        self._shape(spec)
        self._cloud_provider()
        networking = self._networking_fields()
        region = self._network(networking)
        partition = partition_for_region(region) if region else "aws"
        kms_keys = self._etcd(partition)
        state_store = self._state_store()
        additional = self._additional_policies(partition)
        external = self._external_policies(partition)
        boundary = self._boundary(partition)
        labels = self._cloud_labels()
        has_bastion = self._has_bastion(networking, additional, external)
        if self.errors:
            raise SpecInvalid(self.errors, self.warnings)
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
            cloud_labels=labels,
            warnings=tuple(self.warnings),
        )

    # -- header ------------------------------------------------------------------------

    def _api_version(self) -> str:
        api = self.doc.get("apiVersion")
        kind = self.doc.get("kind")
        version = "v1alpha2"
        if api is not None:
            group, _, ver = api.partition("/") if isinstance(api, str) else ("", "", "")
            if group != API_GROUP or ver not in API_VERSIONS:
                self.error(
                    "apiVersion",
                    f"{api!r} is not a kops Cluster API; expected {API_GROUP}/"
                    + "|".join(API_VERSIONS),
                )
            else:
                version = ver
        if kind is not None and kind != "Cluster":
            self.error("kind", f"{kind!r} is not supported; kops-iam reads kind: Cluster")
        return version

    def _name(self) -> str | None:
        metadata = self.doc.get("metadata")
        try:
            meta = Metadata.model_validate(metadata)
        except ValidationError as exc:
            self.errors.extend(_pydantic_issues("metadata", exc))
            return None
        name = meta.name
        labels = name.split(".")
        if len(name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
            hint = " (an unexpanded ${...} variable?)" if "$" in name else ""
            self.error(
                "metadata.name",
                f"{name!r} is not a DNS name: lower-case letters, digits, '-' and '.'{hint}",
            )
            return None
        if len(CLUSTER_TAG_PREFIX) + len(name) > MAX_TAG_KEY:
            self.error(
                "metadata.name",
                f"{len(name)} characters: roles are tagged {CLUSTER_TAG_PREFIX}<name> and IAM tag "
                f"keys hold at most {MAX_TAG_KEY} characters, so a cluster name can have at most "
                f"{MAX_TAG_KEY - len(CLUSTER_TAG_PREFIX)}",
            )
            return None
        return name

    # -- spec fields -------------------------------------------------------------------

    def _shape(self, spec: Mapping[str, Any]) -> None:
        for key in _SPEC_FIELDS:
            if key not in spec or spec[key] is None:
                continue
            try:
                self.fields[key] = _adapter(key).validate_python(spec[key])
            except ValidationError as exc:
                self.errors.extend(_pydantic_issues(join_path("spec", key), exc))

    def _cloud_provider(self) -> None:
        provider = self.fields.get("cloudProvider")
        if provider is None:
            if "cloudProvider" not in self.doc.get("spec", {}):
                self.error("spec.cloudProvider", "required; kops-iam manages AWS clusters only")
            return
        if isinstance(provider, str):
            if provider != "aws":
                self.error(
                    "spec.cloudProvider", f"{provider!r}: kops-iam manages AWS clusters only"
                )
        elif set(provider) != {"aws"}:
            self.error(
                "spec.cloudProvider",
                f"{', '.join(sorted(provider)) or 'empty'}: kops-iam manages AWS clusters only "
                "(expected cloudProvider: {aws: {}})",
            )

    def _networking_fields(self) -> dict[str, Any]:
        """Merge v1alpha3 ``spec.networking.*`` with the older top-level fields."""
        merged: dict[str, Any] = {}
        net = self.fields.get("networking")
        nested = net if isinstance(net, Networking) else None
        for key, base in (
            ("networkCIDR", "spec"),
            ("networkID", "spec"),
            ("additionalNetworkCIDRs", "spec"),
            ("subnets", "spec"),
            ("topology", "spec"),
        ):
            top = self.fields.get(key)
            inner = getattr(nested, key, None) if nested else None
            if top is not None and top != []:
                merged[key] = (join_path(base, key), top)
            elif inner is not None and inner != []:
                merged[key] = (join_path("spec.networking", key), inner)
        return merged

    def _network(self, net: dict[str, Any]) -> str | None:
        networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        if "networkCIDR" in net:
            path, value = net["networkCIDR"]
            parsed = self._cidr(path, value)
            if parsed:
                networks.append(parsed)
        if "additionalNetworkCIDRs" in net:
            path, values = net["additionalNetworkCIDRs"]
            for index, value in enumerate(values):
                parsed = self._cidr(join_path(path, index), value)
                if parsed:
                    networks.append(parsed)
        if "nonMasqueradeCIDR" in self.fields:
            self._cidr("spec.nonMasqueradeCIDR", self.fields["nonMasqueradeCIDR"])
        if "networkID" in net:
            path, value = net["networkID"]
            if not _VPC_ID.match(value):
                self.error(path, f"{value!r} is not a VPC id (vpc- and 8 or 17 hex digits)")

        placements: list[tuple[str, str | None, str | None]] = []  # (path, zone, cidr)
        if "subnets" in net:
            path, subnets = net["subnets"]
            for index, subnet in enumerate(subnets):
                placements.append((join_path(path, index), subnet.zone, subnet.cidr))
        elif self.fields.get("zones"):
            for index, zone in enumerate(self.fields["zones"]):
                placements.append((join_path("spec.zones", index), zone.name, zone.cidr))

        regions: dict[str, str] = {}
        for path, zone, cidr in placements:
            if cidr is not None:
                parsed = self._cidr(join_path(path, "cidr"), cidr)
                if parsed and networks and not any(_within(parsed, n) for n in networks):
                    self.error(
                        join_path(path, "cidr"),
                        f"{cidr} is not inside networkCIDR " + ", ".join(str(n) for n in networks),
                    )
            if zone is None:
                continue
            match = _ZONE.match(zone)
            if not match:
                self.error(
                    join_path(path, "zone" if "subnets" in path else "name"),
                    f"{zone!r} is not an AWS availability zone",
                )
                continue
            regions.setdefault(match.group("region"), path)
        if not placements and not self.errors:
            self.error(
                "spec.subnets",
                "required: at least one subnet with its zone (the zone "
                "decides the region and the partition)",
            )
        if len(regions) > 1:
            listed = ", ".join(f"{r} ({p})" for r, p in regions.items())
            first_path = list(regions.values())[1]
            self.error(first_path, f"zones span several regions: {listed}; a cluster lives in one")
        if len(regions) == 1:
            return next(iter(regions))
        if not regions and placements and not self.errors:
            self.error("spec.subnets", "no subnet names a zone, so the region is unknown")
        return None

    def _cidr(self, path: str, value: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        try:
            return ipaddress.ip_network(value, strict=True)
        except ValueError as exc:
            self.error(path, f"{value!r} is not a CIDR: {exc}")
            return None

    def _etcd(self, partition: str) -> tuple[KmsKeyRef, ...]:
        keys: list[KmsKeyRef] = []
        for c_index, cluster in enumerate(self.fields.get("etcdClusters") or []):
            for m_index, member in enumerate(cluster.etcdMembers):
                base = join_path("spec.etcdClusters", c_index, "etcdMembers", m_index)
                key_field = "kmsKeyID" if member.kmsKeyID is not None else "kmsKeyId"
                key = member.kmsKeyID if member.kmsKeyID is not None else member.kmsKeyId
                if member.kmsKeyID is not None and member.kmsKeyId is not None:
                    self.error(join_path(base, "kmsKeyId"), "give kmsKeyID or kmsKeyId, not both")
                if key is None:
                    continue
                path = join_path(base, key_field)
                form = self._kms_form(path, key, partition)
                if form is None:
                    continue
                if member.encryptedVolume is not True:
                    self.warn(
                        path,
                        "set without encryptedVolume: true, so the volume is not "
                        "encrypted with it and the masters get no KMS grant",
                    )
                    continue
                keys.append(KmsKeyRef(path, key, form))
        return tuple(keys)

    def _kms_form(
        self, path: str, key: str, partition: str
    ) -> Literal["arn", "id", "alias"] | None:
        arn = _KMS_KEY_ARN.match(key) or _KMS_ALIAS_ARN.match(key)
        if arn:
            if arn.group("partition") != partition:
                self.error(
                    path,
                    f"ARN partition {arn.group('partition')!r} does not match the "
                    f"cluster's {partition!r}",
                )
                return None
            return "alias" if ":alias/" in key else "arn"
        if _KMS_KEY_ID.match(key):
            return "id"
        if _KMS_ALIAS.match(key):
            return "alias"
        self.error(path, f"{key!r} is not a KMS key ARN, key id or alias (alias/NAME)")
        return None

    def _state_store(self) -> tuple[S3Path, ...]:
        candidates: list[tuple[str, str]] = []
        for key in ("configBase", "keyStore", "secretStore"):
            if isinstance(self.fields.get(key), str):
                candidates.append((join_path("spec", key), self.fields[key]))
        store = self.fields.get("configStore")
        if isinstance(store, str):
            candidates.append(("spec.configStore", store))
        elif isinstance(store, ConfigStore):
            for key in ("base", "keypairs", "secrets"):
                value = getattr(store, key)
                if value is not None:
                    candidates.append((join_path("spec.configStore", key), value))
        paths: set[S3Path] = set()
        for path, url in candidates:
            if not url.startswith("s3://"):
                continue  # other stores (gs://, memfs://) need no S3 grant
            match = _S3_URL.match(url)
            if not match or ".." in match.group("bucket"):
                self.error(
                    path,
                    f"{url!r} is not an s3://bucket/path URL (the path in printable ASCII "
                    "without spaces: it becomes an ARN in the role's policy)",
                )
                continue
            if _S3_PATH_FORBIDDEN.intersection(match.group("path") or ""):
                self.error(
                    path,
                    f"{url!r}: * ? $ and \\ would act as wildcards or variables in "
                    "the policy ARN; kops state-store paths do not use them",
                )
                continue
            paths.add(S3Path(match.group("bucket"), (match.group("path") or "").strip("/")))
        return tuple(sorted(paths, key=lambda p: (p.bucket, p.path)))

    def _role_keyed(self, field_name: str) -> dict[RoleKind, tuple[str, Any]]:
        """Map ``master``/``control-plane``/``node``/``bastion`` keys to roles."""
        result: dict[RoleKind, tuple[str, Any]] = {}
        for key, value in (self.fields.get(field_name) or {}).items():
            path = join_path("spec", field_name, key)
            role = ROLE_KEYS.get(key)
            if role is None:
                self.error(path, f"unknown role {key!r}; expected one of " + ", ".join(ROLE_KEYS))
                continue
            if role in result:
                self.error(path, "master and control-plane name the same role; give only one")
                continue
            result[role] = (path, value)
        return result

    def _additional_policies(
        self, partition: str
    ) -> dict[RoleKind, tuple[str, tuple[JSONDict, ...]]]:
        checker = self.check_statements
        if checker is None:
            from kops_iam.domain.additional_policies import check_additional_policy

            checker = check_additional_policy
        result: dict[RoleKind, tuple[str, tuple[JSONDict, ...]]] = {}
        for role, (path, raw) in self._role_keyed("additionalPolicies").items():
            statements, issues = checker(raw, path, partition=partition, options=self.options)
            self.errors.extend(issues)
            if not issues and statements:
                result[role] = (path, tuple(statements))
        return result

    def _external_policies(self, partition: str) -> dict[RoleKind, tuple[str, ...]]:
        allowed = self.options.allowed_managed_policies
        result: dict[RoleKind, tuple[str, ...]] = {}
        for role, (path, arns) in self._role_keyed("externalPolicies").items():
            if len(arns) > MAX_MANAGED_POLICIES_PER_ROLE:
                self.error(
                    path,
                    f"{len(arns)} managed policies; IAM attaches at most "
                    f"{MAX_MANAGED_POLICIES_PER_ROLE} to a role",
                )
            kept: list[str] = []
            for index, arn in enumerate(arns):
                item = join_path(path, index)
                if self._managed_policy_arn(item, arn, partition) is None:
                    continue
                if allowed is not None and arn not in allowed:
                    self.error(
                        item,
                        f"{arn} is not among the managed policies the operator "
                        "allows (KOPS_IAM_ALLOWED_MANAGED_POLICIES / "
                        "kops-iam:allowedManagedPolicyArns)",
                    )
                    continue
                if arn in kept:
                    self.error(item, f"{arn} is listed twice")
                    continue
                kept.append(arn)
            if kept:
                result[role] = tuple(kept)
        return result

    def _managed_policy_arn(self, path: str, arn: str, partition: str) -> str | None:
        match = _MANAGED_POLICY_ARN.match(arn)
        if not match:
            self.error(
                path,
                f"{arn!r} is not a managed policy ARN (arn:<partition>:iam::<account>:policy/NAME)",
            )
            return None
        if match.group("partition") != partition:
            self.error(
                path,
                f"ARN partition {match.group('partition')!r} does not match the "
                f"cluster's {partition!r}",
            )
            return None
        return arn

    def _boundary(self, partition: str) -> str | None:
        iam = self.fields.get("iam")
        spec_boundary = iam.permissionsBoundary if isinstance(iam, IAMSpec) else None
        path = "spec.iam.permissionsBoundary"
        if spec_boundary is not None:
            self._managed_policy_arn(path, spec_boundary, partition)
        required = self.options.permissions_boundary
        if required is not None:
            if spec_boundary is not None and spec_boundary != required:
                self.error(
                    path,
                    f"{spec_boundary} differs from the permissions boundary the "
                    f"operator requires on every role ({required})",
                )
            return required
        return spec_boundary

    def _cloud_labels(self) -> dict[str, str]:
        labels: dict[str, str] = self.fields.get("cloudLabels") or {}
        for key, value in labels.items():
            path = join_path("spec.cloudLabels", key)
            if not 1 <= len(key) <= 128 or not _TAG_CHARS.match(key):
                self.error(path, "a tag key is 1-128 letters, digits, spaces or _.:/=+-@")
            elif key in _RESERVED_TAG_KEYS or key.startswith(_RESERVED_TAG_PREFIXES):
                self.error(path, "reserved: kops-iam sets this tag itself (or AWS owns the prefix)")
            if len(value) > 256 or not _TAG_CHARS.match(value):
                self.error(path, "a tag value is at most 256 letters, digits, spaces or _.:/=+-@")
        # Name, KubernetesCluster, kubernetes.io/cluster/<name>, and kops-iam's own tags
        reserved = 3 + len(OWN_TAG_KEYS)
        if len(labels) + reserved > MAX_TAGS_PER_ROLE:
            self.error(
                "spec.cloudLabels",
                f"{len(labels)} labels; with the {reserved} tags "
                f"kops-iam sets, a role holds at most {MAX_TAGS_PER_ROLE}",
            )
        return dict(sorted(labels.items()))

    def _has_bastion(
        self,
        net: dict[str, Any],
        additional: Mapping[RoleKind, object],
        external: Mapping[RoleKind, object],
    ) -> bool:
        topology = net.get("topology")
        declared = topology is not None and topology[1].bastion is not None
        return declared or "bastion" in additional or "bastion" in external


def _within(
    inner: ipaddress.IPv4Network | ipaddress.IPv6Network,
    outer: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bool:
    if inner.version != outer.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type]
