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
from typing import TextIO

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan, RoleKind
from kops_iam.domain.options import Options


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    del name  # validate and render take the same arguments
    parser.add_argument(
        "files",
        nargs="+",
        metavar="FILE",
        help="cluster spec (YAML or JSON); several are also checked for role-name collisions",
    )
    add_option_arguments(parser)


def add_option_arguments(parser: argparse.ArgumentParser) -> None:
    """Operator options shared by every command that validates a spec."""
    parser.add_argument("--account-id", help="AWS account id (turns bare KMS key ids into ARNs)")
    add_allow_action_argument(parser)
    parser.add_argument(
        "--permissions-boundary",
        metavar="ARN",
        help="require this managed policy as every role's permissions boundary",
    )


def add_allow_action_argument(parser: argparse.ArgumentParser) -> None:
    """``--allow-action``: the operator's approval of an escalation action (never the spec's)."""
    parser.add_argument(
        "--allow-action",
        action="append",
        default=[],
        metavar="ACTION",
        help="approve a privilege-escalation action (or pattern) in additionalPolicies",
    )


def options_from_args(args: argparse.Namespace) -> Options:
    return Options(
        account_id=args.account_id,
        allowed_actions=frozenset(args.allow_action),
        permissions_boundary=args.permissions_boundary,
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


def _check(path: str, command: str, options: Options) -> _Checked:
    from kops_iam.domain.naming import role_name
    from kops_iam.domain.pipeline import plan_spec, validate_spec

    kinds: list[RoleKind] = ["master", "node"]
    warnings: tuple[object, ...]
    plan: ClusterPlan | None = None
    try:
        if command == "validate":
            spec = validate_spec(read_spec(path), options)
            kinds += ["bastion"] if spec.has_bastion else []
            cluster, warnings = spec.name, tuple(spec.warnings)
        else:
            plan = plan_spec(read_spec(path), options)
            kinds, cluster, warnings = list(plan.roles), plan.cluster, plan.warnings
    except SpecInvalid as exc:
        return _Checked(errors=exc.errors, warnings=exc.warnings)
    roles: dict[str, str] = {kind: role_name(kind, cluster) for kind in kinds}
    return _Checked(warnings=warnings, cluster=cluster, roles=roles, plan=plan)


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    checked = [(path, _check(path, args.command, options)) for path in args.files]
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
