"""The document's header: ``apiVersion``, ``kind``, ``metadata.name``, ``spec.cloudProvider``."""

from __future__ import annotations

import re
from typing import Final

from pydantic import ValidationError

from kops_iam.domain.spec.checks import SpecChecks
from kops_iam.domain.spec.documents import API_GROUPS, api_versions
from kops_iam.domain.spec.model import CLUSTER_TAG_PREFIX, MAX_TAG_KEY
from kops_iam.domain.spec.shapes import Metadata, pydantic_issues

API_GROUP: Final = "kops.k8s.io"
API_VERSIONS: Final = ("v1alpha1", "v1alpha2", "v1alpha3")

_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def api_version(checks: SpecChecks) -> str:
    """The Cluster's API version (``v1alpha1``, ``v1alpha2``, ``v1alpha3``); a foreign one or
    another kind is an error.

    Every form kops wrote is accepted (:data:`~kops_iam.domain.spec.documents.API_GROUPS`:
    the ``kops`` group until kops 1.14, ``kops.k8s.io`` after). The field names of every
    version are read whatever the version says; without ``apiVersion`` the result is
    ``v1alpha2`` (the version only matters to :func:`~kops_iam.domain.spec.roles.roles`).
    """
    api = checks.doc.get("apiVersion")
    kind = checks.doc.get("kind")
    version = "v1alpha2"
    if api is not None:
        group, _, ver = api.rpartition("/") if isinstance(api, str) else ("", "", "")
        if group not in API_GROUPS or ver not in API_GROUPS[group]:
            checks.error(
                "apiVersion",
                f"{api!r} is not a kops Cluster API version; expected one of "
                + ", ".join(api_versions()),
            )
        else:
            version = ver
    if kind is not None and kind != "Cluster":
        checks.error("kind", f"{kind!r} is not supported; kops-iam reads kind: Cluster")
    return version


def cluster_name(checks: SpecChecks) -> str | None:
    """``metadata.name``, a DNS name short enough for kops' cluster tag key; ``None`` if not."""
    metadata = checks.doc.get("metadata")
    try:
        meta = Metadata.model_validate(metadata)
    except ValidationError as exc:
        checks.errors.extend(pydantic_issues("metadata", exc))
        return None
    name = meta.name
    labels = name.split(".")
    if len(name) > 253 or not all(_DNS_LABEL.match(label) for label in labels):
        hint = " (an unexpanded ${...} variable?)" if "$" in name else ""
        checks.error(
            "metadata.name",
            f"{name!r} is not a DNS name: lower-case letters, digits, '-' and '.'{hint}",
        )
        return None
    if len(CLUSTER_TAG_PREFIX) + len(name) > MAX_TAG_KEY:
        checks.error(
            "metadata.name",
            f"{len(name)} characters: roles are tagged {CLUSTER_TAG_PREFIX}<name> and IAM tag "
            f"keys hold at most {MAX_TAG_KEY} characters, so a cluster name can have at most "
            f"{MAX_TAG_KEY - len(CLUSTER_TAG_PREFIX)}",
        )
        return None
    return name


# -- spec fields -------------------------------------------------------------------


def cloud_provider(checks: SpecChecks) -> None:
    """``spec.cloudProvider`` must be AWS (``aws`` or ``{aws: {}}``)."""
    provider = checks.fields.get("cloudProvider")
    if provider is None:
        if "cloudProvider" not in checks.doc.get("spec", {}):
            checks.error("spec.cloudProvider", "required; kops-iam manages AWS clusters only")
        return
    if isinstance(provider, str):
        if provider != "aws":
            checks.error("spec.cloudProvider", f"{provider!r}: kops-iam manages AWS clusters only")
    elif set(provider) != {"aws"}:
        checks.error(
            "spec.cloudProvider",
            f"{', '.join(sorted(provider)) or 'empty'}: kops-iam manages AWS clusters only "
            "(expected cloudProvider: {aws: {}})",
        )
