"""``kops-iam validate`` and ``kops-iam render``: offline, no AWS needed.

Both take several files. Besides each file's own errors, they report clusters whose kops
role names coincide (names over 64 characters are truncated, so two different clusters can
share one; docs/adr/0060): kops-iam would give the role to the first one applied and
reject the other, so this is an error of both files.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan, RoleKind
from kops_iam.domain.options import Options

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.domain.lookups import Lookups


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """``validate`` and ``render``: one or more files; ``render`` also takes the lookups."""
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="cluster spec (YAML or JSON), optionally followed by its InstanceGroups; "
        "several files are also checked for role-name collisions among them",
    )
    if name == "render":
        add_lookup_arguments(parser)
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
        raise SpecInvalid([Issue("", f"cannot read: {exc.strerror or exc}")]) from None
    return data


def report(path: str, issues: tuple[Issue, ...], prefix: str, out: TextIO) -> None:
    for issue in issues:
        print(f"{path}: {prefix}{issue}", file=out)


def _lookups(args: argparse.Namespace) -> Lookups:
    """What the operator gave by hand for a strict spec (``render``'s lookup arguments)."""
    from kops_iam.domain.lookups import Lookups, fixed_zone

    return Lookups(
        hosted_zone=fixed_zone(args.hosted_zone_id) if args.hosted_zone_id else None,
        config_base=args.config_base,
    )


def collision_issues(roles: dict[str, dict[str, str]]) -> dict[str, list[Issue]]:
    """Errors per cluster for role names other clusters share (``roles``: cluster -> kind
    -> role name, as :func:`kops_iam.domain.ownership.name_collisions` takes)."""
    from kops_iam.domain.ownership import name_collisions

    issues: dict[str, list[Issue]] = {}
    for collision in name_collisions(roles):
        for cluster, kind in collision.holders:
            issues.setdefault(cluster, []).append(
                Issue(f"roles.{kind}", collision.message(cluster))
            )
    return issues


@dataclass
class _Checked:
    """One file's verdict: its errors and warnings, or its cluster and role names."""

    errors: tuple[Issue, ...] = ()
    warnings: tuple[object, ...] = ()
    cluster: str | None = None
    roles: dict[str, str] = field(default_factory=dict)
    plan: ClusterPlan | None = None


def _check(path: str, command: str, options: Options, lookups: Lookups | None) -> _Checked:
    from kops_iam.domain.naming import role_name
    from kops_iam.domain.pipeline import plan_spec, validate_spec

    kinds: list[RoleKind]
    warnings: tuple[object, ...]
    plan: ClusterPlan | None = None
    try:
        if command == "validate":
            spec = validate_spec(read_spec(path), options)
            kinds, cluster, warnings = list(spec.roles), spec.name, tuple(spec.warnings)
        else:
            plan = plan_spec(read_spec(path), options, lookups=lookups)
            kinds, cluster, warnings = list(plan.roles), plan.cluster, plan.warnings
    except SpecInvalid as exc:
        return _Checked(errors=exc.errors, warnings=exc.warnings)
    roles: dict[str, str] = {kind: role_name(kind, cluster) for kind in kinds}
    return _Checked(warnings=warnings, cluster=cluster, roles=roles, plan=plan)


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    lookups = _lookups(args) if args.command == "render" else None
    checked = [(path, _check(path, args.command, options, lookups)) for path in args.files]
    roles: dict[str, dict[str, str]] = {}
    for _, result in checked:
        if result.cluster is not None:
            roles.setdefault(result.cluster, {}).update(result.roles)
    collisions = collision_issues(roles)
    failed = False
    for path, result in checked:
        errors = result.errors + tuple(collisions.get(result.cluster or "", ()))
        failed = failed or bool(errors)
        report(path, errors, "", sys.stdout)
        if args.command == "render":
            warnings_out = sys.stdout if result.cluster is None else sys.stderr
            for warning in result.warnings:
                print(f"{path}: warning: {warning}", file=warnings_out)
            continue
        for warning in result.warnings:
            print(f"{path}: warning: {warning}")
        if not errors:
            print(f"{path}: ok")
    if args.command == "validate" or failed:
        return 1 if failed else 0
    rendered = [r.plan.to_dict() for _, r in checked if r.plan is not None]
    json.dump(rendered[0] if len(rendered) == 1 else rendered, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
