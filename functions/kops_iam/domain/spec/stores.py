"""State-store locations (``configBase``, ``keyStore``, ``secretStore``, ``configStore``)."""

from __future__ import annotations

import re

from kops_iam.domain.errors import join_path
from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.model import S3Path, StateStore
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
        found = s3_path(checks, path, url)
        if found is not None:
            paths.add(found)
    return tuple(sorted(paths, key=lambda p: (p.bucket, p.path)))


def s3_path(checks: SpecChecks | None, path: str, url: str) -> S3Path | None:
    """``url`` as bucket and path when it is an ``s3://`` URL fit for an ARN.

    Other stores (``gs://``, ``memfs://``) give ``None`` (they need no S3 grant); an
    ``s3://`` URL that cannot become an ARN is an error at ``path`` (when ``checks`` is given).
    """
    if not url.startswith("s3://"):
        return None
    match = _S3_URL.match(url)
    if not match or ".." in match.group("bucket"):
        if checks is not None:
            checks.error(
                path,
                f"{url!r} is not an s3://bucket/path URL (the path in printable ASCII "
                "without spaces: it becomes an ARN in the role's policy)",
            )
        return None
    if _S3_PATH_FORBIDDEN.intersection(match.group("path") or ""):
        if checks is not None:
            checks.error(
                path,
                f"{url!r}: * ? $ and \\ would act as wildcards or variables in "
                "the policy ARN; kops state-store paths do not use them",
            )
        return None
    return S3Path(match.group("bucket"), (match.group("path") or "").strip("/"))


def strict_store(checks: SpecChecks) -> StateStore:
    """The state-store locations kops 1.8.0's strict builder grants, as the spec gives them.

    ``configBase`` (v1alpha3: ``configStore.base``), ``keyStore`` (``configStore.keypairs``)
    and ``secretStore`` (``configStore.secrets``). kops 1.8 overwrote a v1alpha2
    ``configStore`` with ``configBase``: one that differs is a warning. ``s3://`` URLs must
    fit an ARN; ``memfs://`` (kops' tests) needs no grant; any other store kops 1.8 could
    not grant ("path is not cluster readable"): a warning, and no S3 statement for it.
    """
    found: dict[str, tuple[str, str]] = {}
    for key in ("configBase", "keyStore", "secretStore"):
        if isinstance(checks.fields.get(key), str):
            found[key] = (join_path("spec", key), checks.fields[key])
    store = checks.fields.get("configStore")
    if isinstance(store, ConfigStore):
        for key, name in (
            ("base", "configBase"),
            ("keypairs", "keyStore"),
            ("secrets", "secretStore"),
        ):
            value = getattr(store, key)
            if value is not None and name not in found:
                found[name] = (join_path("spec.configStore", key), value)
    elif isinstance(store, str) and store.rstrip("/") != found.get("configBase", ("", ""))[
        1
    ].rstrip("/"):
        checks.warn(
            "spec.configStore",
            "kops 1.8 derives the config store from configBase and ignores this value; so "
            "does kops-iam in strict mode",
        )
    for path, url in found.values():
        if s3_path(checks, path, url) is None and not url.startswith(("s3://", "memfs://")):
            checks.warn(
                path,
                f'{url!r} is not an s3:// store: kops 1.8 could not grant access to it ("path '
                'is not cluster readable"); no S3 statement for it',
            )
    return StateStore(
        config_base=found.get("configBase"),
        key_store=found.get("keyStore"),
        secret_store=found.get("secretStore"),
    )
