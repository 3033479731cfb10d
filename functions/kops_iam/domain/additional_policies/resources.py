"""``Resource`` / ``NotResource``: ``*`` or ARNs IAM accepts in the cluster's partition.

IAM itself checks the resource part of two ARN namespaces when a policy is written
(:data:`~kops_iam.domain.catalogue.ARN_NAMESPACES`): a Region only where AWS documents one
(``arn:aws:s3:us-east-1:111122223333:accesspoint/ap`` yes, a bucket no), and an ``iam``
resource of a type it knows. The types and whether they carry a Region come from the
catalogue (AWS's documented ARN formats), not from a list kept here; only IAM's own
statement of its ``iam`` types (:data:`IAM_LISTED_TYPES`) is written down, with the one
type AWS uses that is newer than the catalogue.
"""

from __future__ import annotations

import re
from typing import Any, Final

from kops_iam.domain.additional_policies.checks import Checks
from kops_iam.domain.additional_policies.text import quote
from kops_iam.domain.catalogue import ARN_NAMESPACES, has_wildcard, matches, one_edit

#: The ``iam`` resource types IAM names in its own error message (PutRolePolicy,
#: MalformedPolicyDocument, 2026): 'IAM resource path must either be "*", root, or start
#: with user/, federated-user/, role/, group/, instance-profile/, mfa/, server-certificate/,
#: policy/, sms-mfa/, saml-provider/, oidc-provider/, report/, access-report/'. The
#: catalogue documents all but ``report/`` and adds others. Plus ``role-template/``: IAM
#: role templates (IAM API reference, ``SourceRoleTemplate``), granted on
#: ``arn:aws:iam::aws:role-template/...`` by AWS managed policies since 2026-09, newer than
#: the catalogue of 2026-04-01.
IAM_LISTED_TYPES: Final = frozenset(
    {
        "role-template/",
        "root",
        "user/",
        "federated-user/",
        "role/",
        "group/",
        "instance-profile/",
        "mfa/",
        "server-certificate/",
        "policy/",
        "sms-mfa/",
        "saml-provider/",
        "oidc-provider/",
        "report/",
        "access-report/",
    }
)

#: The keyword at the start of a resource part, and the separator after it.
_TYPE: Final = re.compile(r"([^/:]*)([/:]|$)")


def check_resources(checks: Checks, value: Any, path: str) -> None:
    """Check a ``Resource`` (or ``NotResource``) value."""
    partition = checks.partition
    for item_path, resource in checks.string_list(value, path, "resources"):
        if checks.text(resource, item_path) or resource == "*":
            continue
        parts = resource.split(":", 5)
        if parts[0] != "arn" or len(parts) < 6 or not parts[1] or not parts[2]:
            checks.error(
                item_path,
                f"{quote(resource)} is not * or an ARN "
                f"(arn:{partition}:service:region:account:resource)",
            )
        elif parts[1] not in (partition, "*"):
            checks.error(
                item_path,
                f"ARN partition does not match the cluster's: expected "
                f"arn:{partition}:..., found arn:{parts[1]}:...",
            )
        elif parts[2] in ARN_NAMESPACES:
            _check_resource_type(checks, resource, parts, item_path)


def resource_type(resource_part: str) -> str:
    """The type an ARN's resource part names: ``role/`` for ``role/x``, ``root`` for ``root``.

    For an S3 bucket or object (``bucket/key``) this is the bucket name and its ``/``, which
    no documented type matches.
    """
    match = _TYPE.match(resource_part)
    assert match is not None  # the pattern matches every string
    return match.group(1) + match.group(2)


def _could_be(written: str, types: frozenset[str]) -> bool:
    """Whether a type written with wildcards (``*``, ``acc*/``) can match one of ``types``."""
    keyword = written.rstrip("/:")
    return any(matches(keyword, known.rstrip("/:")) for known in types if known)


def _check_resource_type(checks: Checks, resource: str, parts: list[str], path: str) -> None:
    """IAM's own checks of an ``s3`` or ``iam`` ARN: its Region, and an ``iam`` type."""
    namespace, region, rest = parts[2], parts[3], parts[5]
    types = checks.catalogue.arn_types(namespace)
    written = resource_type(rest)
    wild = has_wildcard(written)
    if region:
        if (wild and _could_be(written, types.regional)) or (
            not wild and written in types.regional
        ):
            return
        if types.regional:
            documented = ", ".join(sorted(types.regional))
            checks.error(
                path,
                f"{namespace} ARNs name a Region only for the resource types AWS documents "
                f"with one ({documented}; {checks.catalogue.describe()}); IAM refuses "
                f"{quote(resource)} because it names {quote(region)} (buckets and objects: "
                f"arn:{parts[1]}:{namespace}:::bucket/key; a resource type AWS added since "
                "needs a newer kops-iam)",
            )
        else:
            checks.error(
                path,
                f"{namespace} ARNs have no Region (arn:{parts[1]}:{namespace}::...); IAM "
                f"refuses {quote(resource)} because it names {quote(region)}",
            )
        return
    if namespace != "iam" or rest == "*":
        return
    known = types.all | IAM_LISTED_TYPES
    if (wild and _could_be(written, known)) or (not wild and written in known):
        return
    listed = ", ".join(sorted(known - {""}))
    near = sorted(k for k in known if k and one_edit(k.lower(), written.lower()))
    same = sorted(k for k in known if k.lower() == written.lower())
    hint = f"; did you mean {(same or near)[0]!r}?" if same or near else ""
    checks.error(
        path,
        f"{quote(resource)}: an IAM resource is * or one of IAM's resource types "
        f"({listed}); IAM refuses anything else{hint} (the types are IAM's and "
        f"{checks.catalogue.describe()}'s: a type AWS added since needs a newer kops-iam)",
    )
