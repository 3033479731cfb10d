"""What kops looked up in AWS, which kops-iam takes from its caller (the domain does no I/O).

* **KMS aliases**: an etcd ``kmsKeyId`` alias becomes its key ARN (``kms:DescribeKey``), in
  the cluster's region: KMS is regional (docs/adr/0075).
* **The hosted zone** (strict IAM only, docs/adr/0092): kops 1.8 scoped the masters' Route53
  rights to the cluster's hosted zone. ``spec.dnsZone`` without a dot is the zone id itself;
  with a dot it names the zone; empty, kops took the longest zone whose name is a suffix of
  the cluster name. The zone must be as private as ``topology.dns.type`` says (``Public``
  unless ``Private``). A gossip cluster (``*.k8s.local``) has no zone. :func:`select_zone`
  is kops' choice among candidate zones; the caller finds the candidates (the Lambda with
  ``route53:ListHostedZonesByName``, ``render`` from ``--hosted-zone-id``).
* **The state store** (strict IAM only): kops always knew where a cluster lives; a spec
  without ``configBase`` gets the one the caller knows (the Lambda: the bucket it read the
  spec from, ``s3://<bucket>/<cluster>``; ``render``: ``--config-base``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final

#: kops' gossip clusters: DNS inside the cluster, no hosted zone (``dns.IsGossipHostname``).
GOSSIP_SUFFIX: Final = ".k8s.local"

#: ``(alias, region) -> key ARN``: KMS is regional, so an alias is resolved in the cluster's
#: region (the spec's), whatever region the caller runs in (docs/adr/0075).
AliasResolver = Callable[[str, str], str]


@dataclass(frozen=True)
class HostedZoneQuery:
    """The hosted zone kops 1.8 used for a cluster, before it is looked up.

    Parameters
    ----------
    name
        The zone's name (``exact``), or the cluster name whose longest suffix zone is wanted.
    exact
        ``True`` for ``spec.dnsZone`` naming a zone; ``False`` when ``dnsZone`` is empty.
    private
        Whether the zone must be private (``topology.dns.type: Private``) or public.
    path
        The spec field the query comes from (for messages).
    """

    name: str
    exact: bool
    private: bool
    path: str

    def describe(self) -> str:
        """The query in words, e.g. ``public hosted zone example.com``."""
        kind = "private" if self.private else "public"
        if self.exact:
            return f"{kind} hosted zone {self.name}"
        return f"{kind} hosted zone whose name {self.name} ends with"

    def candidate_names(self) -> list[str]:
        """Zone names that may answer, best first (the name, then its ever shorter suffixes)."""
        name = self.name.rstrip(".").lower()
        if self.exact:
            return [name]
        labels = name.split(".")
        return [".".join(labels[index:]) for index in range(len(labels))]


@dataclass(frozen=True)
class HostedZone:
    """A Route53 hosted zone: its id (without ``/hostedzone/``), name and privacy."""

    id: str
    name: str
    private: bool


ZoneResolver = Callable[[HostedZoneQuery], str]


def zone_id(raw: str) -> str:
    """A hosted zone id without Route53's ``/hostedzone/`` prefix (kops strips it too)."""
    text = raw.lstrip("/")
    return text[len("hostedzone/") :] if text.startswith("hostedzone/") else text


def select_zone(query: HostedZoneQuery, zones: Iterable[HostedZone]) -> str:
    """The id of the zone kops 1.8 picks among ``zones`` for ``query``.

    Raises
    ------
    LookupError
        No zone fits, or two fit equally well (kops failed the same way).
    """
    candidates = query.candidate_names()
    fitting = [
        z for z in zones if z.name.rstrip(".").lower() in candidates and z.private == query.private
    ]
    if not fitting:
        raise LookupError(f"Route53 has no {query.describe()}")
    rank = {z: candidates.index(z.name.rstrip(".").lower()) for z in fitting}
    best = min(rank.values())
    chosen = sorted({zone_id(z.id) for z, r in rank.items() if r == best})
    if len(chosen) > 1:
        raise LookupError(
            f"several zones fit ({', '.join(chosen)}) as the {query.describe()}; set "
            "spec.dnsZone to the id of the one to use"
        )
    return chosen[0]


def fixed_zone(zone: str) -> ZoneResolver:
    """A resolver answering every query with ``zone`` (``render --hosted-zone-id``)."""
    given = zone_id(zone)
    return lambda _query: given


@dataclass(frozen=True)
class Lookups:
    """The caller's answers to what kops looked up; ``None`` where the caller has none.

    Parameters
    ----------
    kms_alias
        Turns a KMS alias into its key ARN, in the given (the cluster's) region.
    hosted_zone
        Finds the hosted zone id for a :class:`HostedZoneQuery`.
    config_base
        The cluster's state-store location when its spec has no ``configBase``
        (``s3://<bucket>/<cluster>``).
    """

    kms_alias: AliasResolver | None = None
    hosted_zone: ZoneResolver | None = None
    config_base: str | None = None
