"""KMS: turn the alias an etcd ``kmsKeyId`` names into its key ARN (``DescribeKey``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

from kops_iam.aws.errors import error_code

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_kms import KMSClient


class KmsAliases:
    """Resolves KMS aliases; the client is made on first need (most specs name none).

    Parameters
    ----------
    client
        A boto3 KMS client, or
    factory
        a function making one on first need.
    """

    def __init__(
        self,
        client: KMSClient | None = None,
        factory: Callable[[], KMSClient] | None = None,
    ) -> None:
        if client is None and factory is None:
            raise ValueError("KmsAliases needs a client or a factory")
        self._client = client
        self._factory = factory
        self._lock = threading.Lock()

    @property
    def client(self) -> KMSClient:
        """The KMS client, made on first use when a factory was given."""
        if self._client is None:
            with self._lock:
                if self._client is None:
                    assert self._factory is not None
                    self._client = self._factory()
        return self._client

    def resolve(self, alias: str) -> str:
        """Key ARN a KMS alias (name or ARN) points to.

        Raises
        ------
        LookupError
            KMS does not know the alias (reported as a spec error at its field path).
        """
        from botocore.exceptions import ClientError

        try:
            arn: str = self.client.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        except ClientError as exc:
            if error_code(exc) in ("NotFoundException", "InvalidArnException"):
                raise LookupError(f"KMS has no key for {alias}") from exc
            raise
        return arn
