"""Copy AWS's managed policies, as moto ships them, into the test suite's policy corpus.

moto (a development dependency) carries every AWS managed policy in
``moto/iam/aws_managed_policies.py``. The corpus test (tests/unit/test_policy_corpus.py)
validates each one as an ``additionalPolicies`` value and compares the counts with
docs/policy-rules.md, so it needs a fixed copy: this script writes the policies' names,
update dates and documents to ``tests/data/aws-managed-policies.json.xz`` (deterministic
xz JSON, about 270 KB), recording moto's version.

Usage::

    python scripts/build_policy_corpus.py [--output PATH]
"""

from __future__ import annotations

import argparse
import json
import lzma
import sys
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "tests" / "data" / "aws-managed-policies.json.xz"


def build() -> dict[str, object]:
    """The corpus document from the installed moto: ``{"source", "policies"}``."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    policies = json.loads(aws_managed_policies_data)
    return {
        "source": f"moto {metadata.version('moto')}, moto/iam/aws_managed_policies.py",
        "policies": {
            name: {"UpdateDate": record["UpdateDate"], "Document": record["Document"]}
            for name, record in sorted(policies.items())
        },
    }


def main(argv: list[str] | None = None) -> int:
    """Write the corpus file; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write the file")
    args = parser.parse_args(argv)
    document = build()
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    data = lzma.compress(text.encode("ascii"), preset=9)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_bytes(data)
    print(f"wrote {args.output} ({len(data)} bytes): {len(document['policies'])} policies")  # type: ignore[arg-type]
    return 0


if __name__ == "__main__":
    sys.exit(main())
