"""KMS: turn the alias an etcd ``kmsKeyId`` names into its key ARN (``DescribeKey``).

KMS is regional: ``alias/etcd`` names a different key (or none) in each region. The alias
is resolved in the **cluster's** region (the spec's; an alias ARN's own region), never in
the region the function runs in, as bare key ids already are (docs/adr/0075).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kops_iam.aws.errors import error_code

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_kms import KMSClient

#: ``region -> KMS client of that region``.
KmsClientFactory = Callable[[str], "KMSClient"]


class NoKmsClient(RuntimeError):
    """No KMS client for the region a spec's alias must be resolved in (a setup error)."""


def alias_region(alias: str, default: str) -> str:
    """The region to resolve ``alias`` in: an alias ARN's own, else ``default``."""
    if alias.startswith("arn:"):
        parts = alias.split(":")
        if len(parts) > 3 and parts[3]:
            return parts[3]
    return default


class KmsAliases:
    """Resolves KMS aliases in a given region; clients are made on first need, one per
    region (most specs name no alias).

    Parameters
    ----------
    client
        A boto3 KMS client, used for its own region only, or
    factory
        a function making the client of a region on first need (the Lambda and the CLI).
    """

    def __init__(
        self,
        client: KMSClient | None = None,
        factory: KmsClientFactory | None = None,
    ) -> None:
        if client is None and factory is None:
            raise ValueError("KmsAliases needs a client or a factory")
        self._clients: dict[str, KMSClient] = {}
        if client is not None:
            self._clients[client.meta.region_name] = client
        self._factory = factory
        self._lock = threading.Lock()

    def client(self, region: str) -> KMSClient:
        """The KMS client of ``region``, made on first use when a factory was given.

        Raises
        ------
        NoKmsClient
            Only a client of another region was given.
        """
        with self._lock:
            if region not in self._clients:
                if self._factory is None:
                    raise NoKmsClient(f"no KMS client for {region} (the cluster's region)")
                self._clients[region] = self._factory(region)
            return self._clients[region]

    @property
    def regions(self) -> tuple[str, ...]:
        """Regions a client was made (or given) for."""
        with self._lock:
            return tuple(self._clients)

    def resolve(self, alias: str, region: str) -> str:
        """Key ARN a KMS alias (name or ARN) points to, in the cluster's ``region``.

        Raises
        ------
        LookupError
            KMS does not know the alias there (reported as a spec error at its field path).
        """
        from botocore.exceptions import ClientError

        where = alias_region(alias, region)
        try:
            arn: str = self.client(where).describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if error_code(exc) in ("NotFoundException", "InvalidArnException"):
                raise LookupError(f"KMS has no key for {alias} in {where}") from exc
            raise
        return arn
