"""The kops state-store layout: which object keys are cluster specs, and of which cluster."""

from __future__ import annotations

import re
from typing import Final

#: kops state-store layout: the cluster spec lives at ``<cluster name>/config``.
SPEC_KEY_SUFFIX: Final = "/config"
SPEC_KEY_PATTERN: Final = re.compile(r"^(?P<cluster>[^/]+)/config$")


def cluster_from_key(key: str) -> str | None:
    """Return the cluster segment of a spec key, or ``None`` when the key is not a spec."""
    match = SPEC_KEY_PATTERN.match(key)
    return match.group("cluster") if match else None
