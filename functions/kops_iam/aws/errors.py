"""AWS error codes, read the same way by every adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return ""
    error = response.get("Error", {})
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""


#: Error codes S3 answers for an object (or version) that is not there.
S3_MISSING_CODES: Final = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})

#: Error codes AWS answers when a caller exceeds a request rate (IAM: ``Throttling``; S3:
#: ``SlowDown``; JSON services: ``ThrottlingException``; ...): botocore's own list of
#: throttling codes (``botocore.retries.standard``). Not IAM's ``LimitExceeded``, a quota.
THROTTLING_CODES: Final = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
    }
)


def is_throttling(exc: BaseException | None) -> bool:
    """Whether ``exc`` (or what it wraps: ``cause`` or the exception chain) is a request
    rate being exceeded, after botocore's own retries."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if error_code(exc) in THROTTLING_CODES:
            return True
        response = getattr(exc, "response", None)
        if isinstance(response, Mapping):
            status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 429:
                return True
        cause = getattr(exc, "cause", None)
        exc = cause if isinstance(cause, BaseException) else exc.__cause__
    return False
