"""Networking: CIDRs, the VPC, and the zones that decide the region and partition."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from kops_iam.domain.errors import join_path
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.shapes import Networking

_VPC_ID = re.compile(r"^vpc-([0-9a-f]{8}|[0-9a-f]{17})$")
_ZONE = re.compile(r"^(?P<region>[a-z]{2}(?:-gov|-iso[a-z]?)?-[a-z]+-\d+)(?:-[a-z0-9]+-\d+)?[a-z]$")


def networking_fields(checks: SpecChecks) -> dict[str, Any]:
    """Merge v1alpha3 ``spec.networking.*`` with the older top-level fields."""
    merged: dict[str, Any] = {}
    net = checks.fields.get("networking")
    nested = net if isinstance(net, Networking) else None
    for key, base in (
        ("networkCIDR", "spec"),
        ("networkID", "spec"),
        ("additionalNetworkCIDRs", "spec"),
        ("subnets", "spec"),
        ("topology", "spec"),
    ):
        top = checks.fields.get(key)
        inner = getattr(nested, key, None) if nested else None
        if top is not None and top != []:
            merged[key] = (join_path(base, key), top)
        elif inner is not None and inner != []:
            merged[key] = (join_path("spec.networking", key), inner)
    return merged


def network(checks: SpecChecks, net: dict[str, Any]) -> str | None:
    """Check CIDRs, the VPC id and the zones; return the one region the zones share."""
    networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
    if "networkCIDR" in net:
        path, value = net["networkCIDR"]
        parsed = parse_cidr(checks, path, value)
        if parsed:
            networks.append(parsed)
    if "additionalNetworkCIDRs" in net:
        path, values = net["additionalNetworkCIDRs"]
        for index, value in enumerate(values):
            parsed = parse_cidr(checks, join_path(path, index), value)
            if parsed:
                networks.append(parsed)
    if "nonMasqueradeCIDR" in checks.fields:
        parse_cidr(checks, "spec.nonMasqueradeCIDR", checks.fields["nonMasqueradeCIDR"])
    if "networkID" in net:
        path, value = net["networkID"]
        if not _VPC_ID.match(value):
            checks.error(path, f"{value!r} is not a VPC id (vpc- and 8 or 17 hex digits)")

    placements: list[tuple[str, str | None, str | None]] = []  # (path, zone, cidr)
    if "subnets" in net:
        path, subnets = net["subnets"]
        for index, subnet in enumerate(subnets):
            placements.append((join_path(path, index), subnet.zone, subnet.cidr))
    elif checks.fields.get("zones"):
        for index, zone in enumerate(checks.fields["zones"]):
            placements.append((join_path("spec.zones", index), zone.name, zone.cidr))

    regions: dict[str, str] = {}
    for path, zone, cidr in placements:
        if cidr is not None:
            parsed = parse_cidr(checks, join_path(path, "cidr"), cidr)
            if parsed and networks and not any(within(parsed, n) for n in networks):
                checks.error(
                    join_path(path, "cidr"),
                    f"{cidr} is not inside networkCIDR " + ", ".join(str(n) for n in networks),
                )
        if zone is None:
            continue
        match = _ZONE.match(zone)
        if not match:
            checks.error(
                join_path(path, "zone" if "subnets" in path else "name"),
                f"{zone!r} is not an AWS availability zone",
            )
            continue
        regions.setdefault(match.group("region"), path)
    if not placements and not checks.errors:
        checks.error(
            "spec.subnets",
            "required: at least one subnet with its zone (the zone "
            "decides the region and the partition)",
        )
    if len(regions) > 1:
        listed = ", ".join(f"{r} ({p})" for r, p in regions.items())
        first_path = list(regions.values())[1]
        checks.error(first_path, f"zones span several regions: {listed}; a cluster lives in one")
    if len(regions) == 1:
        return next(iter(regions))
    if not regions and placements and not checks.errors:
        checks.error("spec.subnets", "no subnet names a zone, so the region is unknown")
    return None


def parse_cidr(
    checks: SpecChecks, path: str, value: str
) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    """``value`` as a network, or ``None`` with an error at ``path``."""
    try:
        return ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        checks.error(path, f"{value!r} is not a CIDR: {exc}")
        return None


def within(
    inner: ipaddress.IPv4Network | ipaddress.IPv6Network,
    outer: ipaddress.IPv4Network | ipaddress.IPv6Network,
) -> bool:
    """Whether ``inner`` lies inside ``outer`` (never across IP versions)."""
    if inner.version != outer.version:
        return False
    return inner.subnet_of(outer)  # type: ignore[arg-type]
