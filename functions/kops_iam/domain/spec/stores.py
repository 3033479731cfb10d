"""State-store locations (``configBase``, ``keyStore``, ``secretStore``, ``configStore``)."""

from __future__ import annotations

import re

from kops_iam.domain.errors import join_path
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.model import S3Path
from kops_iam.domain.spec.shapes import ConfigStore

#: State-store paths become ARNs in the policies: printable ASCII only, no spaces or wildcards.
_S3_URL = re.compile(
    r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:/(?P<path>[!-~]*?))?/?$", re.ASCII
)
_S3_PATH_FORBIDDEN = frozenset("*?$\\")


def state_store_paths(checks: SpecChecks) -> tuple[S3Path, ...]:
    """The distinct ``s3://`` state-store locations (other stores need no S3 grant)."""
    candidates: list[tuple[str, str]] = []
    for key in ("configBase", "keyStore", "secretStore"):
        if isinstance(checks.fields.get(key), str):
            candidates.append((join_path("spec", key), checks.fields[key]))
    store = checks.fields.get("configStore")
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
            checks.error(
                path,
                f"{url!r} is not an s3://bucket/path URL (the path in printable ASCII "
                "without spaces: it becomes an ARN in the role's policy)",
            )
            continue
        if _S3_PATH_FORBIDDEN.intersection(match.group("path") or ""):
            checks.error(
                path,
                f"{url!r}: * ? $ and \\ would act as wildcards or variables in "
                "the policy ARN; kops state-store paths do not use them",
            )
            continue
        paths.add(S3Path(match.group("bucket"), (match.group("path") or "").strip("/")))
    return tuple(sorted(paths, key=lambda p: (p.bucket, p.path)))
