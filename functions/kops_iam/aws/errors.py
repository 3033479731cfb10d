"""AWS error codes, read the same way by every adapter."""

from __future__ import annotations

from collections.abc import Mapping


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore ``ClientError`` (``""`` for anything else)."""
    response = getattr(exc, "response", None)
    if not isinstance(response, Mapping):
        return ""
    error = response.get("Error", {})
    return str(error.get("Code", "")) if isinstance(error, Mapping) else ""
