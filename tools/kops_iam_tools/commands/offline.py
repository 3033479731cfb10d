"""``kops-iam validate`` and ``kops-iam render``: offline, no AWS needed.

Streams and exit codes as every command (:mod:`kops_iam_tools.commands.findings`):
``validate`` prints ``FILE: ok`` per valid file on stdout, findings on stderr; with
``--json`` one document on stdout (every file, every finding with its line and column);
with ``--format github`` annotations on stdout. ``render`` prints the plan as JSON on
stdout and nothing else (``render bad.yaml > out.json`` leaves ``out.json`` empty); with
``--json`` a failure is ``validate --json``'s document instead.

Both take several files. Besides each file's own findings, they report clusters whose kops
role names coincide (names over 64 characters are truncated, so two different clusters can
share one; docs/adr/0060): kops-iam would give the role to the first one applied and
reject the other, so this is an error of both files (code ``name-collision``).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options
from kops_iam_tools.commands import findings

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.domain.lookups import Lookups


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """``validate`` and ``render``: one or more files (checked for role-name collisions
    among them); ``render`` also takes the lookups."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="cluster spec (YAML or JSON), optionally followed by its InstanceGroups; "
        "several files are also checked for role-name collisions among them",
    )
    if name == "validate":
        parser.add_argument(
            "--format",
            choices=("text", "json", "github"),
            default="text",
            help="text: FILE: ok on stdout, findings on stderr (default); json: one JSON "
            "document on stdout, each finding with path, message, code, line and column; "
            "github: GitHub Actions ::error annotations on stdout",
        )
        parser.add_argument(
            "--json", dest="format", action="store_const", const="json", help="--format json"
        )
    else:
        add_lookup_arguments(parser)
        parser.add_argument(
            "--json",
            action="store_true",
            help="on failure too, print one JSON document on stdout (validate --json's)",
        )
    add_option_arguments(parser)


def add_lookup_arguments(parser: argparse.ArgumentParser) -> None:
    """What kops looked up in AWS for a strict spec, given by hand (``render`` is offline)."""
    parser.add_argument(
        "--hosted-zone-id",
        metavar="ID",
        help="the cluster's Route53 hosted zone id, for a strict spec (an iam block) whose "
        "spec.dnsZone is not the id itself (kops looked the zone up; plan/apply do)",
    )
    parser.add_argument(
        "--config-base",
        metavar="URL",
        help="the cluster's state store (s3://BUCKET/CLUSTER), for a strict spec without "
        "spec.configBase (the Lambda uses the bucket it read the spec from)",
    )


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """Operator options shared by every command that validates a spec (from the settings table)."""
    from kops_iam.application.settings import SETTING

    parser.add_argument("--account-id", help="AWS account id (turns bare KMS key ids into ARNs)")
    add_allow_action_argument(parser)
    managed = SETTING["allowed_managed_policy_arns"]
    parser.add_argument(
        str(managed.flag),
        dest="allow_managed_policy",
        action="append",
        default=[],
        metavar="ARN",
        help=f"{managed.description} Repeatable; without it, any ARN is accepted offline.",
    )
    unknown = SETTING["unknown_actions"]
    parser.add_argument(
        str(unknown.flag),
        dest="unknown_actions",
        choices=("warn", "error"),
        default=unknown.default,
        help=unknown.description,
    )
    known = SETTING["known_actions"]
    parser.add_argument(
        str(known.flag),
        dest="known_action",
        action="append",
        default=[],
        metavar="ACTION",
        help=f"{known.description} Repeatable.",
    )
    boundary = SETTING["permissions_boundary_arn"]
    parser.add_argument(
        str(boundary.flag),
        dest="permissions_boundary",
        metavar="ARN",
        help=boundary.description.replace("**", ""),
    )


def add_allow_action_argument(parser: argparse.ArgumentParser) -> None:
    """``--allow-action``: the operator's approval of an escalation action (never the spec's)."""
    from kops_iam.application.settings import SETTING

    actions = SETTING["allowed_actions"]
    parser.add_argument(
        str(actions.flag),
        dest="allow_action",
        action="append",
        default=[],
        metavar="ACTION",
        help=f"{actions.description} Repeatable.",
    )


def options_from_args(args: argparse.Namespace) -> Options:
    """The operator's options as the CLI user gave them; refusals name the CLI's flags."""
    from kops_iam.application.settings import approval_for

    managed = getattr(args, "allow_managed_policy", [])
    return Options(
        account_id=args.account_id,
        allowed_actions=frozenset(args.allow_action),
        permissions_boundary=args.permissions_boundary,
        allowed_managed_policies=frozenset(managed) if managed else None,
        approval=approval_for("cli"),
        unknown_actions=args.unknown_actions,
        known_actions=frozenset(args.known_action),
    )


def read_spec(path: str) -> bytes:
    """Read a spec file (``-`` for stdin); raises :class:`SpecInvalid` when it can't be read."""
    from kops_iam.domain.parsing import MAX_SPEC_BYTES

    try:
        if path == "-":
            data = sys.stdin.buffer.read(MAX_SPEC_BYTES + 1)
        else:
            with Path(path).open("rb") as handle:
                data = handle.read(MAX_SPEC_BYTES + 1)
    except OSError as exc:
        raise SpecInvalid([Issue("", f"cannot read: {exc.strerror or exc}", "parse")]) from None
    return data


def report(path: str, issues: tuple[Issue, ...], prefix: str, out: TextIO) -> None:
    for issue in issues:
        print(f"{path}: {prefix}{issue}", file=out)


@dataclass
class Checked:
    """One file's verdict: its bytes (when read), errors and warnings, its plan, and (when
    valid) its cluster and role names."""

    path: str
    data: bytes | None = None
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()
    plan: ClusterPlan | None = None
    cluster: str | None = None
    roles: dict[str, str] = field(default_factory=dict)

    def record(self) -> dict[str, Any]:
        """The verdict as ``validate --json`` prints it."""
        return findings.file_record(self.path, self.errors, self.warnings, self.data)


def check_file(path: str, options: Options, lookups: Lookups | None = None) -> Checked:
    """Validate ``path`` (and plan it, given ``lookups``): never raises for a bad spec."""
    from kops_iam.domain.naming import role_name
    from kops_iam.domain.pipeline import plan_spec, validate_spec

    checked = Checked(path)
    try:
        checked.data = read_spec(path)
        if lookups is None:
            spec = validate_spec(checked.data, options)
            checked.warnings = tuple(spec.warnings)
            checked.cluster, kinds = spec.name, tuple(spec.roles)
        else:
            checked.plan = plan_spec(checked.data, options, lookups=lookups)
            checked.warnings = tuple(_as_issue(w) for w in checked.plan.warnings)
            checked.cluster, kinds = checked.plan.cluster, tuple(checked.plan.roles)
    except SpecInvalid as exc:
        checked.errors, checked.warnings = exc.errors, exc.warnings
        return checked
    checked.roles = {kind: role_name(kind, checked.cluster) for kind in kinds}
    return checked


def collision_issues(roles: dict[str, dict[str, str]]) -> dict[str, list[Issue]]:
    """Errors per cluster for role names other clusters share (``roles``: cluster -> kind
    -> role name, as :func:`kops_iam.domain.ownership.name_collisions` takes)."""
    from kops_iam.domain.ownership import name_collisions

    issues: dict[str, list[Issue]] = {}
    for collision in name_collisions(roles):
        for cluster, kind in collision.holders:
            issues.setdefault(cluster, []).append(
                Issue(f"roles.{kind}", collision.message(cluster), "name-collision")
            )
    return issues


def check_files(
    paths: list[str], options: Options, lookups: Lookups | None = None
) -> list[Checked]:
    """:func:`check_file` for each path, then role-name collisions among the valid ones (an
    error of each file involved)."""
    checked = [check_file(path, options, lookups) for path in paths]
    roles: dict[str, dict[str, str]] = {}
    for item in checked:
        if item.cluster is not None:
            roles.setdefault(item.cluster, {}).update(item.roles)
    collisions = collision_issues(roles)
    for item in checked:
        if item.cluster in collisions:
            item.errors += tuple(collisions[item.cluster])
    return checked


def _as_issue(warning: object) -> Issue:
    return warning if isinstance(warning, Issue) else Issue("", str(warning))


def print_verdicts(checked: list[Checked], form: str) -> int:
    """Print every file's verdict in ``form`` (text, json, github); the exit code."""
    failed = any(c.errors for c in checked)
    if form == "json":
        findings.dump({"ok": not failed, "files": [c.record() for c in checked]})
    elif form == "github":
        for item in checked:
            for line in findings.github_annotations(item.record()):
                print(line)
    else:
        for item in checked:
            findings.report_text(item.path, item.errors, item.warnings)
            if not item.errors:
                print(f"{item.path}: ok")
    return findings.FAILED if failed else findings.OK


def run(args: argparse.Namespace) -> int:
    from kops_iam.domain.lookups import Lookups, fixed_zone

    options = options_from_args(args)
    if args.command == "validate":
        return print_verdicts(check_files(args.files, options), args.format)

    lookups = Lookups(
        hosted_zone=fixed_zone(args.hosted_zone_id) if args.hosted_zone_id else None,
        config_base=args.config_base,
    )
    checked = check_files(args.files, options, lookups)
    if any(item.errors for item in checked):
        if args.json:
            return print_verdicts(checked, "json")
        for item in checked:  # findings on stderr; stdout stays empty
            findings.report_text(item.path, item.errors, item.warnings)
        return findings.FAILED
    if not args.json:
        for item in checked:
            findings.report_text(item.path, (), item.warnings)
    plans = [item.plan.to_dict() for item in checked if item.plan is not None]
    findings.dump(plans[0] if len(plans) == 1 else plans)
    return findings.OK
