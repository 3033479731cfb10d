"""``kops-iam validate`` and ``kops-iam render``: offline, no AWS needed."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.options import Options


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    if name == "validate":
        parser.add_argument(
            "files",
            nargs="+",
            metavar="FILE",
            help="cluster spec (YAML or JSON), optionally followed by its InstanceGroups",
        )
    else:
        parser.add_argument(
            "file",
            metavar="FILE",
            help="cluster spec (YAML or JSON), optionally followed by its InstanceGroups",
        )
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


def run(args: argparse.Namespace) -> int:
    from kops_iam.domain.pipeline import plan_spec, validate_spec

    options = options_from_args(args)
    if args.command == "validate":
        failed = False
        for path in args.files:
            try:
                spec = validate_spec(read_spec(path), options)
            except SpecInvalid as exc:
                failed = True
                report(path, exc.errors, "", sys.stdout)
                report(path, exc.warnings, "warning: ", sys.stdout)
                continue
            report(path, spec.warnings, "warning: ", sys.stdout)
            print(f"{path}: ok")
        return 1 if failed else 0

    from kops_iam.domain.lookups import Lookups, fixed_zone

    lookups = Lookups(
        hosted_zone=fixed_zone(args.hosted_zone_id) if args.hosted_zone_id else None,
        config_base=args.config_base,
    )
    try:
        plan: ClusterPlan = plan_spec(read_spec(args.file), options, lookups=lookups)
    except SpecInvalid as exc:
        report(args.file, exc.errors, "", sys.stdout)
        report(args.file, exc.warnings, "warning: ", sys.stdout)
        return 1
    for warning in plan.warnings:
        print(f"{args.file}: warning: {warning}", file=sys.stderr)
    json.dump(plan.to_dict(), sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0
