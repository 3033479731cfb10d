"""Build the golden corpus from kops itself (``tests/golden/kops/``) out of an extraction.

The extraction (``corpus/``, ``golden-1.8.0/``, ``apiversion-samples/``,
``truncate-vectors.json``) is made from the ``kubernetes/kops`` git history by the research
scripts that come with it (their ``NOTES.md`` says how); this script only makes it small and
stable enough to commit:

* integration inputs (``tests/integration/.../in-v1alpha*.yaml``) are copied byte for byte,
  once per git blob (``inputs/<blob sha>.yaml``);
* per case, what kops produced is kept where the test compares it: the set of roles, role and
  instance-profile names, inline policy names, trust policy, tags, boundary, managed
  policies, and the policy documents of the cases from kops 1.8 and earlier (later releases'
  policies follow those releases, a documented deviation, so they are not kept: the manifest
  records the tag and path of every file they came from);
* kops 1.8.0's own goldens (``pkg/model/iam/tests/*.json``) are copied byte for byte; the
  Go test's spec is written as YAML (``golden-1.8.0/case*.yaml``), adapted where kops-iam
  requires a real value (each adaptation recorded in the manifest);
* the apiVersion samples and the truncation vectors are copied.

Usage::

    python scripts/kops_corpus.py /path/to/extraction [tests/golden/kops]
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import yaml

OUT = Path(__file__).resolve().parents[1] / "tests" / "golden" / "kops"

#: The kops test harness' mock cloud (cmd/kops integration tests).
HARNESS = {
    "region": "us-test-1",
    "hostedZones": [
        {"name": "example.com", "id": "Z1AFAKE1ZON3YO", "private": False},
        {"name": "internal.example.com", "id": "Z2AFAKE1ZON3NO", "private": True},
        {"name": "private.example.com", "id": "Z3AFAKE1ZOMORE", "private": True},
    ],
}

#: kops 1.8.0's Go test names KMS keys ``key-id-N``; IAM only takes ARNs (and kops-iam only
#: key ARNs, ids and aliases), so the YAML names these keys and the expected documents are
#: compared with the same substitution (deviation ``kms-key-arns``).
GOLDEN_KMS = {
    f"key-id-{n}": "arn:aws:kms:us-test-1:111122223333:key/"
    + "-".join(n * width for width in (8, 4, 4, 4, 12))
    for n in ("1", "2", "3")
}
#: The Go test sets no region; a real spec names a subnet (kops' validation requires one).
GOLDEN_SUBNET = "  subnets:\n  - {name: us-test-1a, zone: us-test-1a, cidr: 172.20.32.0/19}\n"

RELEASE_18 = ("1.8.",)


def git_blob_sha(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()


def first_release_at_most_18(tags: list[str]) -> bool:
    """Whether the case's output is that of kops 1.8 or earlier (any tag 1.8.x or older)."""
    for tag in tags:
        major, minor = (int(x) for x in tag.lstrip("v").split(".")[:2])
        if (major, minor) <= (1, 8):
            return True
    return False


def compact_role(role: dict[str, Any], keep_documents: bool) -> dict[str, Any]:
    policies = {}
    for name, document in role["policies"].items():
        policies[name] = document if keep_documents and isinstance(document, dict) else None
    trust = role.get("assumeRolePolicy")
    return {
        "roleName": role["roleName"],
        "instanceProfileName": role.get("instanceProfileName"),
        "assumeRolePolicy": trust if isinstance(trust, dict) else None,
        "policies": policies,
        "tags": role.get("tags"),
        "permissionsBoundary": role.get("permissionsBoundary"),
        "managedPolicies": role.get("managedPolicies") or [],
        "instanceProfileTags": role.get("instanceProfileTags"),
    }


def integration_cases(src: Path, out: Path) -> list[dict[str, Any]]:
    manifest = json.loads((src / "corpus" / "manifest.json").read_text())
    (out / "inputs").mkdir(parents=True, exist_ok=True)
    cases = []
    for entry in manifest["cases"]:
        folder = src / "corpus" / entry["id"]
        data = (folder / "input.yaml").read_bytes()
        sha = git_blob_sha(data)
        assert sha == entry["inputSha"], entry["id"]
        (out / "inputs" / f"{sha}.yaml").write_bytes(data)
        expected = json.loads((folder / "expected.json").read_text())
        source = expected["source"]
        content = first_release_at_most_18(source["tags"])
        cases.append(
            {
                "id": entry["id"],
                "kind": "integration",
                "test": entry["test"],
                "input": f"inputs/{sha}.yaml",
                "source": {
                    "repo": source["repo"],
                    "tag": source["tag"],
                    "latestTag": source["latestTag"],
                    "tags": source["tags"],
                    "inputPath": source["inputPath"],
                    "inputBlobSha": sha,
                    # every file read for this case (input and outputs) -> its git blob sha
                    "blobShas": source["blobShas"],
                    "targets": source["targets"],
                },
                "kops": {
                    "mode": expected["iamMode"]["mode"],
                    "why": expected["iamMode"]["why"],
                    "iamBlockPresent": expected["iamMode"]["iamBlockPresent"],
                    "hostedZoneId": (expected["lookups"]["hostedZoneIdInOutput"] or [None])[0],
                    "documentsKept": content,
                },
                "cluster": expected["cluster"],
                "roles": {
                    kind: compact_role(role, content) for kind, role in expected["roles"].items()
                },
            }
        )
    return cases


def golden_cases(src: Path, out: Path) -> list[dict[str, Any]]:
    manifest = json.loads((src / "golden-1.8.0" / "manifest.json").read_text())
    target = out / "golden-1.8.0"
    target.mkdir(parents=True, exist_ok=True)
    files = {f["file"]: f for f in manifest["files"] if f.get("file")}
    cases = []
    for case in manifest["cases"]:
        policy = case["expectedPolicy"]
        data = (src / "golden-1.8.0" / policy).read_bytes()
        assert git_blob_sha(data) == files[policy]["blobSha"], policy
        (target / policy).write_bytes(data)
        spec = (src / "golden-1.8.0" / case["spec"]).read_text()
        header, _, body = spec.partition("apiVersion:")
        body = "apiVersion:" + body
        for key_id, arn in GOLDEN_KMS.items():
            body = body.replace(f"kmsKeyId: {key_id}\n", f"kmsKeyId: {arn}\n")
        body = body.replace("  iam:\n", GOLDEN_SUBNET + "  iam:\n", 1)
        header += (
            "# Adapted for kops-iam (recorded in ../cases.json): a subnet in us-test-1a (kops'\n"
            "# validation requires one; its region gives the same arn:aws partition as the\n"
            "# Go test's empty region) and key ARNs for the Go test's key-id-N placeholders\n"
            "# (IAM takes ARNs only; deviation kms-key-arns).\n"
        )
        (target / case["spec"]).write_text(header + body)
        kind = case["role"].lower()
        cases.append(
            {
                "id": f"golden-1.8.0--case{case['case']}-"
                + Path(case["spec"]).stem.split("-", 1)[1],
                "kind": "golden-1.8.0",
                "input": f"golden-1.8.0/{case['spec']}",
                "source": {
                    "repo": manifest["repo"],
                    "tag": manifest["tag"],
                    "tagCommit": manifest["tagCommit"],
                    "expectedPath": files[policy]["path"],
                    "expectedBlobSha": files[policy]["blobSha"],
                    "specFrom": "pkg/model/iam/iam_builder_test.go (TestPolicyGeneration, "
                    f"case {case['case']}), written as YAML",
                },
                "adaptations": {"kmsKeyIds": GOLDEN_KMS, "subnet": "us-test-1a"},
                "kops": {"mode": "legacy" if case["legacy"] else "strict"},
                "role": kind,
                "expectedPolicy": f"golden-1.8.0/{policy}",
            }
        )
    return cases


def apiversion_cases(src: Path, out: Path) -> list[dict[str, Any]]:
    manifest = json.loads((src / "apiversion-samples" / "manifest.json").read_text())
    target = out / "apiversion"
    target.mkdir(parents=True, exist_ok=True)
    cases = []
    for entry in manifest["files"]:
        data = (src / "apiversion-samples" / entry["file"]).read_bytes()
        assert git_blob_sha(data) == entry["blobSha"], entry["file"]
        (target / entry["file"]).write_bytes(data)
        documents = [d for d in yaml.safe_load_all(data) if d]
        cluster = next(d for d in documents if d.get("kind") == "Cluster")
        roles = {
            {"Master": "master", "ControlPlane": "master", "Node": "node", "Bastion": "bastion"}[
                d["spec"]["role"]
            ]
            for d in documents
            if d.get("kind") == "InstanceGroup"
        }
        iam = (cluster.get("spec") or {}).get("iam")
        if entry["tag"].startswith("v"):  # kops 1.22 and later: one (strict) mode only
            mode, why = "strict", f"kops {entry['tag']} has strict IAM only"
        elif iam is None:
            mode, why = "legacy", "kops 1.8.0: no iam block: defaulting sets iam.legacy=true"
        else:
            mode = "legacy" if iam.get("legacy") else "strict"
            why = "kops 1.8.0: iam block present: legacy only with legacy: true"
        cases.append(
            {
                "id": f"apiversion--{Path(entry['file']).stem}",
                "kind": "apiversion",
                "input": f"apiversion/{entry['file']}",
                "source": {
                    "repo": manifest["repo"],
                    "tag": entry["tag"],
                    "inputPath": entry["path"],
                    "inputBlobSha": entry["blobSha"],
                    "what": entry["what"],
                },
                "kops": {"mode": mode, "why": why, "iamBlockPresent": iam is not None},
                "cluster": cluster["metadata"]["name"],
                "expectedRoles": sorted(roles),
            }
        )
    return cases


def dump(document: dict[str, Any]) -> str:
    """JSON with one case per line: small, and a change to one case is a one-line diff."""
    head = {k: v for k, v in document.items() if k != "cases"}
    lines = json.dumps(head, indent=1)[:-2] + ',\n "cases": [\n'
    lines += ",\n".join(json.dumps(case, separators=(",", ":")) for case in document["cases"])
    return lines + "\n ]\n}\n"


def main(argv: list[str]) -> int:
    src = Path(argv[1])
    out = Path(argv[2]) if len(argv) > 2 else OUT
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    cases = integration_cases(src, out) + golden_cases(src, out) + apiversion_cases(src, out)
    truncation = json.loads((src / "truncate-vectors.json").read_text())
    (out / "truncate-vectors.json").write_text(json.dumps(truncation, indent=1) + "\n")
    document = {
        "about": "kops' own inputs and the IAM kops produced for them; see docs/kops-fidelity.md",
        "repo": "kubernetes/kops",
        "builtBy": "scripts/kops_corpus.py",
        "harness": HARNESS,
        "cases": cases,
    }
    (out / "cases.json").write_text(dump(document))
    print(f"{len(cases)} cases written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
