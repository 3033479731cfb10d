"""The pure pipeline every entry point shares: bytes -> validated spec -> plan.

An input is one file of one or more documents (the CLI) or, in a state store, the
``<cluster>/config`` object and the cluster's ``<cluster>/instancegroup/<name>`` objects (the
Lambda): :func:`read_documents` parses each with the same safety, then the documents are
validated together (:func:`kops_iam.domain.spec.validate_documents`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.lookups import AliasResolver, HostedZoneQuery, Lookups
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam.domain.parsing import parse_documents
from kops_iam.domain.policy import build_plan
from kops_iam.domain.spec import ClusterSpec, SourceDocument, validate_documents

#: Stand-ins with the exact length of a real account id, key id, hosted zone id and bucket,
#: so that ``validate`` checks the policy size limit offline without knowing the account,
#: asking KMS or Route53, or knowing where the spec is stored.
_PLACEHOLDER_ACCOUNT = "000000000000"
_PLACEHOLDER_KEY_ID = "00000000-0000-0000-0000-000000000000"
_PLACEHOLDER_ZONE = "Z0000000000000000000"
_PLACEHOLDER_BUCKET = "kops-state-store-placeholder"

#: An object of the input: ``(path its issues are reported at, bytes)``.
InputObject = tuple[str, bytes | str]


def read_documents(objects: Sequence[InputObject]) -> list[SourceDocument]:
    """Parse every object of an input (each with the parser's limits), keeping every error.

    Raises
    ------
    SpecInvalid
        With the problems of every object that does not parse.
    """
    documents: list[SourceDocument] = []
    errors: list[Issue] = []
    for path, data in objects:
        try:
            documents += [SourceDocument(p, body) for p, body in parse_documents(data, path=path)]
        except SpecInvalid as exc:
            errors += exc.errors
    if errors:
        raise SpecInvalid(errors)
    return documents


def validate_spec(data: bytes | str, options: Options | None = None) -> ClusterSpec:
    """Parse and validate a spec file's content, including the IAM size limits.

    The file holds a Cluster, optionally followed by its InstanceGroups (and other kinds kops
    writes). What a plan looks up (KMS key ids and aliases, a strict spec's hosted zone and
    state store) is stood in for by values of the same length, so validation needs neither
    the account id, KMS, Route53 nor the bucket; :func:`plan_spec` uses the real ones.

    Raises
    ------
    kops_iam.domain.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    return validate_objects([("", data)], options)


def validate_objects(objects: Sequence[InputObject], options: Options | None = None) -> ClusterSpec:
    """:func:`validate_spec` for an input of several objects (a state store's)."""
    options = options or Options()
    spec = validate_documents(read_documents(objects), options)
    offline = dataclasses.replace(options, account_id=options.account_id or _PLACEHOLDER_ACCOUNT)
    build_plan(spec, offline, lookups=_placeholders(spec))
    return spec


def _placeholders(spec: ClusterSpec) -> Lookups:
    key = f"arn:{spec.partition}:kms:{spec.region}:{_PLACEHOLDER_ACCOUNT}:key/{_PLACEHOLDER_KEY_ID}"

    def zone(_query: HostedZoneQuery) -> str:
        return _PLACEHOLDER_ZONE

    return Lookups(
        kms_alias=lambda _alias, _region: key,
        hosted_zone=zone,
        config_base=f"s3://{_PLACEHOLDER_BUCKET}/{spec.name}",
    )


def plan_spec(
    data: bytes | str,
    options: Options | None = None,
    resolve_alias: AliasResolver | None = None,
    *,
    lookups: Lookups | None = None,
) -> ClusterPlan:
    """Parse, validate and compute the IAM plan of a spec file. Pure unless the lookups aren't.

    Raises
    ------
    kops_iam.domain.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    return plan_objects([("", data)], options, resolve_alias, lookups=lookups)


def plan_objects(
    objects: Sequence[InputObject],
    options: Options | None = None,
    resolve_alias: AliasResolver | None = None,
    *,
    lookups: Lookups | None = None,
) -> ClusterPlan:
    """:func:`plan_spec` for an input of several objects (a state store's).

    Raises
    ------
    kops_iam.domain.errors.SpecInvalid
        With every error (and the warnings) found.
    """
    options = options or Options()
    spec = validate_documents(read_documents(objects), options)
    return build_plan(spec, options, resolve_alias, lookups=lookups)
