"""Finding a strict spec's hosted zone with ``ListHostedZonesByName`` only (docs/adr/0092)."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

from kops_iam.aws.route53 import HostedZones
from kops_iam.domain.lookups import HostedZoneQuery


@pytest.fixture
def route53() -> Iterator[tuple[object, Stubber]]:
    client = boto3.session.Session(region_name="us-east-1").client("route53")
    with Stubber(client) as stub:
        yield client, stub
        stub.assert_no_pending_responses()


def zone(zone_id: str, name: str, private: bool = False) -> dict[str, object]:
    return {
        "Id": f"/hostedzone/{zone_id}",
        "Name": name,
        "CallerReference": zone_id,
        "Config": {"PrivateZone": private},
    }


def page(*zones: dict[str, object]) -> dict[str, object]:
    return {"HostedZones": list(zones), "IsTruncated": False, "MaxItems": "10"}


def test_the_longest_fitting_name_is_asked_first_and_wins(
    route53: tuple[object, Stubber],
) -> None:
    client, stub = route53
    # Given no zone named the cluster, a private one for its parent, a public one above
    stub.add_response(
        "list_hosted_zones_by_name",
        page(zone("ZX", "zz.example.com.")),
        {"DNSName": "a.k8s.example.com.", "MaxItems": "10"},
    )
    stub.add_response(
        "list_hosted_zones_by_name",
        page(zone("ZP", "k8s.example.com.", private=True), zone("ZY", "zz.example.com.")),
        {"DNSName": "k8s.example.com.", "MaxItems": "10"},
    )
    stub.add_response(
        "list_hosted_zones_by_name",
        page(zone("ZE", "example.com.")),
        {"DNSName": "example.com.", "MaxItems": "10"},
    )
    # When the public zone of a.k8s.example.com is looked up
    found = HostedZones(client).resolve(  # type: ignore[arg-type]
        HostedZoneQuery("a.k8s.example.com", exact=False, private=False, path="spec.dnsZone")
    )
    # Then it is example.com's (the private k8s.example.com does not fit), found in 3 calls
    assert found == "ZE"


def test_an_exact_name_is_one_call(route53: tuple[object, Stubber]) -> None:
    client, stub = route53
    stub.add_response(
        "list_hosted_zones_by_name",
        page(zone("Z1", "example.com.", private=True)),
        {"DNSName": "example.com.", "MaxItems": "10"},
    )
    query = HostedZoneQuery("example.com", exact=True, private=True, path="spec.dnsZone")
    assert HostedZones(client).resolve(query) == "Z1"  # type: ignore[arg-type]


def test_nothing_fitting_is_a_lookup_error(route53: tuple[object, Stubber]) -> None:
    client, stub = route53
    stub.add_response(
        "list_hosted_zones_by_name", page(), {"DNSName": "example.org.", "MaxItems": "10"}
    )
    stub.add_response("list_hosted_zones_by_name", page(), {"DNSName": "org.", "MaxItems": "10"})
    with pytest.raises(LookupError, match="no public hosted zone"):
        HostedZones(client).resolve(  # type: ignore[arg-type]
            HostedZoneQuery("example.org", exact=False, private=False, path="spec.dnsZone")
        )
