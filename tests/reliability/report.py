"""Render a reliability summary (JSON written by the suite) as the figures of docs/reliability.md.

Usage::

    python tests/reliability/report.py build/reliability/summary-fast.json \
        [--update docs/reliability.md]

Prints the figures as Markdown; with ``--update`` also replaces the block between
``<!-- figures:MODE -->`` and ``<!-- /figures:MODE -->`` in the document, so the published
figures are always those of a real run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any


def _get(figures: dict[str, Any], part: str, name: str) -> int:
    return int(figures.get(part, {}).get(name, 0))


def render(summary: dict[str, Any]) -> str:
    figures: dict[str, Any] = summary["figures"]

    def slash(part: str, *names: str) -> str:
        return " / ".join(f"{_get(figures, part, name):,}" for name in names)

    hostile = figures.get("hostile_input", {})
    faults = figures.get("faults", {})
    tests = summary["tests"]
    lines = [
        f"Mode **{summary['mode']}**, {summary['cpus']} CPUs, Python {summary['python']}: "
        f"{tests['passed']} passed, {tests['failed']} failed, {tests['error']} errors, "
        f"{tests['xfailed']} expected failures (the findings below), "
        f"{summary['wall_seconds']} s wall.",
        "",
        "| Part | Figure | Value |",
        "|---|---|---|",
    ]

    def row(part: str, label: str, value: Any) -> None:
        lines.append(
            f"| {part} | {label} | {value:,} |"
            if isinstance(value, int)
            else f"| {part} | {label} | {value} |"
        )

    structured = _get(figures, "hostile_input", "structured.tried")
    raw = _get(figures, "hostile_input", "raw_bytes.tried")
    cli = _get(figures, "hostile_input", "cli.tried")
    through = _get(figures, "hostile_input", "through_function.tried")
    row(
        "Hostile input",
        "fuzz cases tried (structured + raw bytes + CLI + through the function)",
        f"{structured + raw + cli + through:,} ({structured:,} + {raw:,} + {cli:,} + {through:,})",
    )
    row(
        "Hostile input",
        "structured mutations of the samples: accepted / rejected",
        f"{_get(figures, 'hostile_input', 'structured.accepted'):,} / "
        f"{_get(figures, 'hostile_input', 'structured.rejected'):,}",
    )
    row(
        "Hostile input",
        "raw bytes: accepted / rejected",
        f"{_get(figures, 'hostile_input', 'raw_bytes.accepted'):,} / "
        f"{_get(figures, 'hostile_input', 'raw_bytes.rejected'):,}",
    )
    row(
        "Hostile input",
        "`kops-iam validate` runs: exit 0 / exit 1 / traceback",
        f"{_get(figures, 'hostile_input', 'cli.exit_0'):,} / "
        f"{_get(figures, 'hostile_input', 'cli.exit_1'):,} / 0",
    )
    known = {k.split(".", 1)[1]: v for k, v in hostile.items() if k.startswith("known_finding.")}
    row(
        "Hostile input",
        "fuzz cases hitting an open finding (counted, not failed; see Findings)",
        ", ".join(f"{name}: {count:,}" for name, count in sorted(known.items())) or "0",
    )
    row(
        "Hostile input",
        "hostile specs through the whole function (S3 -> handler -> IAM): applied / rejected",
        slash("hostile_input", "through_function.applied", "through_function.rejected"),
    )
    row(
        "Hostile input",
        "inline policies of accepted specs put to IAM (moto) and accepted",
        _get(figures, "hostile_input", "iam_put_role_policy_accepted"),
    )
    row(
        "Hostile input",
        "named attacks refused (bombs, 100 MB, binary, nesting, ...)",
        _get(figures, "hostile_input", "named.rejected"),
    )
    row(
        "Hostile input",
        "slowest named attack (ms)",
        hostile.get("named.slowest_ms_max", "n/a"),
    )
    row(
        "Hostile input",
        "100 MB S3 object refused from its HEAD, GetObject calls sent",
        slash("hostile_input", "named.s3_100MB_refused_without_GetObject") + " refused, 0 sent",
    )
    injected = {k.split(".", 1)[1]: v for k, v in faults.items() if k.startswith("injected.")}
    kinds = {k.split(".", 1)[1]: v for k, v in faults.items() if k.startswith("injected_kind.")}
    row("Faults", "faults injected (failed attempts), all call sites", sum(injected.values()))
    row(
        "Faults",
        "by kind: " + ", ".join(sorted(kinds)),
        " / ".join(f"{kinds[k]:,}" for k in sorted(kinds)) or "0",
    )
    row("Faults", "distinct call sites faulted", len([k for k in faults if k.startswith("sites.")]))
    row(
        "Faults",
        "faulted runs: transient / persistent",
        slash("faults", "runs.transient", "runs.persistent"),
    )
    row("Faults", "runs with every check passing", _get(figures, "faults", "runs.ok"))
    row(
        "Faults",
        "planned n-th-call faults whose call did not happen in that run (not counted above)",
        _get(figures, "faults", "runs.nth_call_not_reached"),
    )
    row(
        "Faults",
        "re-runs after a persistent fault that converged",
        _get(figures, "faults", "reruns_converged"),
    )
    row(
        "Faults",
        "audit events logged instead of published (bus down)",
        _get(figures, "faults", "audit_events_logged_not_published"),
    )
    row(
        "Races",
        "deterministic shuffles / deliveries",
        f"{_get(figures, 'races', 'shuffles'):,} / {_get(figures, 'races', 'deliveries'):,}",
    )
    row(
        "Races",
        "seeded interleavings / invocations / scheduling points",
        f"{_get(figures, 'races', 'interleavings'):,} / "
        f"{_get(figures, 'races', 'interleaved_invocations'):,} / "
        f"{_get(figures, 'races', 'scheduling_points'):,}",
    )
    row(
        "Races",
        "free-running thread runs / clusters / invocations",
        slash("races", "thread_runs", "thread_clusters", "thread_invocations"),
    )
    row(
        "Races",
        "invocations whose audit was checked against applied writes",
        _get(figures, "races", "invocations"),
    )
    row(
        "Privilege",
        "spec escalation patterns refused without approval / allowed with it",
        f"{_get(figures, 'privilege', 'guardrail.refused_without_approval'):,} / "
        f"{_get(figures, 'privilege', 'guardrail.allowed_with_approval'):,}",
    )
    row(
        "Privilege",
        "hostile calls against the function's own policy, denied",
        _get(figures, "privilege", "own_policy.hostile_calls_checked"),
    )
    row(
        "Privilege",
        "calls reconciling needs, allowed",
        _get(figures, "privilege", "own_policy.needed_calls_checked"),
    )
    row(
        "Privilege",
        "authorization requests of real reconciles (moto) evaluated, all allowed",
        _get(figures, "privilege", "own_policy.reconcile_requests_evaluated"),
    )
    ownership = figures.get("ownership", {})
    rejected = {k.split(".", 1)[1]: v for k, v in ownership.items() if k.startswith("rejected.")}
    row(
        "Ownership",
        "event stories (clusters with engineered name collisions) / invocations",
        slash("ownership", "stories", "invocations"),
    )
    row(
        "Ownership",
        "IAM writes checked against the owner before moto applied them, all the reconciled "
        "cluster's",
        _get(figures, "ownership", "iam_writes_checked"),
    )
    row(
        "Ownership",
        "rejections: " + ", ".join(sorted(rejected)),
        " / ".join(f"{rejected[k]:,}" for k in sorted(rejected)) or "0",
    )
    row(
        "Ownership",
        "deletions that left another cluster's (or kops') role alone",
        _get(figures, "ownership", "deletions_skipping_a_role_not_theirs"),
    )
    row(
        "Drift queue",
        "stories / forged messages (drift checks with crafted keys, damaged checks, events, noise)",
        slash("drift-queue", "stories", "messages"),
    )
    row(
        "Drift queue",
        "forged schedule and S3 events ignored / drift corrected because a message named the "
        "cluster's own key",
        slash("drift-queue", "forged_events", "corrections"),
    )
    lines += ["", "Faults injected per call site (failed attempts):", ""]
    lines += ["| Call site | Faults |", "|---|---|"]
    for site, count in sorted(injected.items()):
        lines.append(f"| `{site}` | {count:,} |")
    return "\n".join(lines) + "\n"


def update(document: Path, mode: str, block: str) -> None:
    text = document.read_text()
    start, end = f"<!-- figures:{mode} -->", f"<!-- /figures:{mode} -->"
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{document}: no {start} ... {end} block")
    document.write_text(pattern.sub(lambda _: f"{start}\n{block}{end}", text))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("summary", type=Path)
    parser.add_argument("--update", type=Path, metavar="DOC")
    args = parser.parse_args(argv)
    summary = json.loads(args.summary.read_text())
    block = render(summary)
    sys.stdout.write(block)
    if args.update is not None:
        update(args.update, summary["mode"], block)
        print(f"updated {args.update} ({summary['mode']} figures)")
    failed = summary["tests"]["failed"] + summary["tests"]["error"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
