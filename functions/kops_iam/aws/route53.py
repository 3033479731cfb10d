"""Route53: find the hosted zone kops 1.8 used for a strict cluster (``ListHostedZonesByName``).

The only Route53 call the function makes (docs/adr/0092), and the narrowest one that finds a
zone by name: it returns zone metadata (id, name, privacy), never records. For each candidate
name, best first (:meth:`~kops_iam.domain.lookups.HostedZoneQuery.candidate_names`), it lists
the zones of exactly that name; kops' choice among them is the domain's
(:func:`~kops_iam.domain.lookups.select_zone`). A cluster ``a.b.example.com`` whose zone is
``example.com`` costs three calls.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, Protocol

from kops_iam.domain.lookups import HostedZone, HostedZoneQuery, select_zone

#: Zones of one name read per call, and calls per name at most (a name rarely has two).
PAGE_SIZE: Final = "10"
MAX_PAGES_PER_NAME: Final = 10


class Route53Client(Protocol):
    """The one boto3 Route53 call used (typed here: no stubs dependency)."""

    def list_hosted_zones_by_name(self, **kwargs: Any) -> Mapping[str, Any]: ...


class HostedZones:
    """Finds hosted zone ids; the client is made on first need (most specs need none).

    Parameters
    ----------
    client
        A boto3 Route53 client, or
    factory
        a function making one on first need.
    """

    def __init__(
        self,
        client: Route53Client | None = None,
        factory: Callable[[], Route53Client] | None = None,
    ) -> None:
        if client is None and factory is None:
            raise ValueError("HostedZones needs a client or a factory")
        self._client = client
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def client(self) -> Route53Client:
        """The Route53 client, made on first use when a factory was given."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    assert self._factory is not None
                    self._client = self._factory()
        return self._client

    def resolve(self, query: HostedZoneQuery) -> str:
        """The id of the zone kops 1.8 would use for ``query``.

        Raises
        ------
        LookupError
            No zone fits, or two fit equally well (reported at the spec field).
        """
        for name in query.candidate_names():
            zones = [z for z in self.zones_named(name) if z.private == query.private]
            if zones:
                return select_zone(query, zones)
        return select_zone(query, [])  # raises: nothing fits

    def zones_named(self, name: str) -> Iterator[HostedZone]:
        """The hosted zones whose name is exactly ``name`` (Route53 lists them in name order)."""
        wanted = f"{name.rstrip('.').lower()}."
        request: dict[str, Any] = {"DNSName": wanted, "MaxItems": PAGE_SIZE}
        for _ in range(MAX_PAGES_PER_NAME):
            response = self.client.list_hosted_zones_by_name(**request)
            zones = response.get("HostedZones", [])
            for zone in zones:
                if str(zone.get("Name", "")).lower() != wanted:
                    return  # past the zones of that name
                yield HostedZone(
                    id=str(zone["Id"]),
                    name=wanted[:-1],
                    private=bool(zone.get("Config", {}).get("PrivateZone", False)),
                )
            if not response.get("IsTruncated") or not zones:
                return
            request["DNSName"] = response.get("NextDNSName", wanted)
            request["HostedZoneId"] = response.get("NextHostedZoneId")
