"""The pure pipeline every entry point shares: bytes -> validated spec -> plan."""

from __future__ import annotations

import dataclasses

from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import parse_document
from kops_iam.domain.policy import AliasResolver, build_plan
from kops_iam.domain.spec import ClusterSpec, validate

#: Stand-ins with the exact length of a real account id and key id, so that ``validate``
#: checks the policy size limit offline without knowing the account or asking KMS.
_PLACEHOLDER_ACCOUNT = "000000000000"
_PLACEHOLDER_KEY_ID = "00000000-0000-0000-0000-000000000000"


def validate_spec(data: bytes | str, options: Options | None = None) -> ClusterSpec:
    """Parse and validate a spec file's content, including the IAM size limits.

    KMS key ids and aliases are stood in for by ARNs of the same length, so validation
    needs neither the account id nor KMS; :func:`plan_spec` resolves the real ones.

    Raises
    ------
    kops_iam.domain.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    options = options or Options()
    spec = validate(parse_document(data), options)
    offline = dataclasses.replace(options, account_id=options.account_id or _PLACEHOLDER_ACCOUNT)
    build_plan(spec, offline, resolve_alias=lambda _alias: _placeholder_key(spec))
    return spec


def _placeholder_key(spec: ClusterSpec) -> str:
    return (
        f"arn:{spec.partition}:kms:{spec.region}:{_PLACEHOLDER_ACCOUNT}:key/{_PLACEHOLDER_KEY_ID}"
    )


def plan_spec(
    data: bytes | str,
    options: Options | None = None,
    resolve_alias: AliasResolver | None = None,
) -> ClusterPlan:
    """Parse, validate and compute the IAM plan of a spec. Pure unless ``resolve_alias`` isn't.

    Raises
    ------
    kops_iam.domain.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    options = options or Options()
    return build_plan(validate(parse_document(data), options), options, resolve_alias)
