"""The pure pipeline every entry point shares: bytes -> validated spec -> plan."""

from __future__ import annotations

from kops_iam.model import ClusterPlan
from kops_iam.options import Options
from kops_iam.parsing import parse_document
from kops_iam.policy import AliasResolver, build_plan
from kops_iam.spec import ClusterSpec, validate


def validate_spec(data: bytes | str, options: Options | None = None) -> ClusterSpec:
    """Parse and validate a spec file's content; raises :class:`SpecInvalid` with every error."""
    return validate(parse_document(data), options)


def plan_spec(
    data: bytes | str,
    options: Options | None = None,
    resolve_alias: AliasResolver | None = None,
) -> ClusterPlan:
    """Parse, validate and compute the IAM plan of a spec. Pure unless ``resolve_alias`` isn't.

    Raises
    ------
    kops_iam.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    options = options or Options()
    return build_plan(validate_spec(data, options), options, resolve_alias)
