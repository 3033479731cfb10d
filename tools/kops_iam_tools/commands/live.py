"""``kops-iam plan FILE`` and ``kops-iam apply FILE``: a spec file against live IAM.

The same :class:`~kops_iam.application.reconciler.Reconciler` the Lambda runs, with clients
built from ``--endpoint-url``/``--region``/``--profile`` (or the usual AWS environment).
``plan`` only reads; ``apply`` writes what differs. Neither publishes audit events (the
operator at the terminal is the audience).

As kops (``update cluster --yes``) and Terraform (``apply``, ``-auto-approve``) do, writing
is an explicit choice: ``apply`` first shows the plan and asks on a terminal; ``--yes``
skips the question; with no terminal and no ``--yes`` it refuses (exit 2) and writes
nothing. ``plan --detailed-exitcode`` exits 0 when IAM already matches, 2 when there are
changes, 1 on errors, as ``terraform plan -detailed-exitcode``. Streams and exit codes
otherwise as every command (:mod:`kops_iam_tools.commands.findings`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import TYPE_CHECKING, Any, TextIO

from kops_iam_tools.commands import findings
from kops_iam_tools.commands.offline import add_option_arguments, options_from_args, read_spec

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.application.document import DocumentResult
    from kops_iam.application.reconciler import Reconciler
    from kops_iam.aws.iam_diff import ClusterChanges, Write
    from kops_iam.domain.errors import Issue


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Arguments of ``plan`` (read-only) and ``apply``."""
    parser.add_argument("file", metavar="FILE", help="cluster spec (YAML or JSON; - for stdin)")
    add_option_arguments(parser)
    parser.add_argument(
        "--endpoint-url", metavar="URL", help="AWS endpoint (e.g. a local emulator)"
    )
    parser.add_argument("--region", help="AWS region of the clients (default: the AWS config)")
    parser.add_argument("--profile", help="AWS named profile")
    parser.add_argument(
        "--adopt-existing-roles",
        action="store_true",
        help="take over same-named roles kops-iam did not create (they get the ownership tag)",
    )
    parser.add_argument(
        "--manage-root-path-roles",
        action="store_true",
        help="keep managing roles kops-iam created at IAM path / before it used /kops-iam/",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the result as one JSON document on stdout (also when it fails)",
    )
    if name == "plan":
        parser.add_argument(
            "--detailed-exitcode",
            action="store_true",
            help="exit 0 when IAM already matches, 2 when the plan has changes, 1 on errors "
            "(as terraform plan -detailed-exitcode)",
        )
    else:
        parser.add_argument(
            "--yes",
            "--auto-approve",
            dest="yes",
            action="store_true",
            help="apply without showing the plan and asking (needed without a terminal, "
            "as kops update cluster --yes and terraform apply -auto-approve)",
        )


def run(args: argparse.Namespace) -> int:
    """Run ``plan`` or ``apply``; print the diff; return the exit code."""
    from kops_iam.domain.errors import SpecInvalid

    try:
        data = read_spec(args.file)
    except SpecInvalid as exc:
        return _invalid(args, data=None, errors=exc.errors)
    try:
        return _run(args, data)
    except Exception as exc:  # noqa: BLE001 - the CLI contract: a message, never a traceback
        message = _explain(exc)
        if args.json:
            findings.dump({"status": "error", "error": message})
        else:
            print(f"kops-iam {args.command}: {message}", file=sys.stderr)
        return findings.FAILED


def _invalid(
    args: argparse.Namespace,
    *,
    data: bytes | None,
    errors: tuple[Issue, ...],
    warnings: tuple[Issue, ...] = (),
    reason: str = "invalid-spec",
) -> int:
    """A spec that cannot be planned: its findings (stderr, or the JSON document)."""
    if args.json:
        record = findings.file_record(args.file, errors, warnings, data)
        findings.dump({"status": "rejected", "reason": reason, **record})
    else:
        findings.report_text(args.file, errors, warnings)
    return findings.FAILED


def _reconciler(args: argparse.Namespace) -> Reconciler:
    import boto3

    from kops_iam.application.reconciler import Reconciler
    from kops_iam.application.settings import Settings

    settings = Settings(
        mode="plan" if args.command == "plan" else "apply",
        options=options_from_args(args),
        adopt_existing_roles=args.adopt_existing_roles,
        manage_root_path_roles=args.manage_root_path_roles,
    )
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    if session.region_name is None:
        session = boto3.session.Session(profile_name=args.profile, region_name="us-east-1")
    config = settings.boto_config()
    endpoint = args.endpoint_url
    return Reconciler(
        settings,
        iam=session.client("iam", endpoint_url=endpoint, config=config),
        kms_factory=lambda region: session.client(
            "kms", region_name=region, endpoint_url=endpoint, config=config
        ),
        route53_factory=lambda: session.client("route53", endpoint_url=endpoint, config=config),
    )


def _run(args: argparse.Namespace, data: bytes) -> int:
    from kops_iam.application.document import reconcile_document
    from kops_iam.application.reconciler import NotConverged, Rejected
    from kops_iam.aws.iam_write import WriteFailed

    reconciler = _reconciler(args)
    try:
        if args.command == "apply" and not args.yes:
            preview = reconcile_document(reconciler, data, dry_run=True)
            if not preview.changes.changed:
                return _done(args, preview, dry_run=True)
            refused = _confirm(args, preview)
            if refused is not None:
                return refused
        result = reconcile_document(reconciler, data, dry_run=args.command == "plan")
    except Rejected as exc:
        errors = tuple(
            i if exc.reason == "invalid-spec" else dataclasses.replace(i, code=exc.reason)
            for i in exc.errors
        )
        return _invalid(args, data=data, errors=errors, warnings=exc.warnings, reason=exc.reason)
    except WriteFailed as exc:
        if args.json:
            findings.dump(
                {
                    "status": "failed",
                    "error": str(exc),
                    "completedWrites": [w.describe() for w in exc.completed],
                }
            )
        else:
            print(f"{args.file}: apply failed: {exc}", file=sys.stderr)
            _print_writes(sys.stderr, exc.completed, "done before the failure")
        return findings.FAILED
    except NotConverged as exc:
        if args.json:
            findings.dump({"status": "failed", "error": str(exc)})
        else:
            print(f"{args.file}: {exc}", file=sys.stderr)
        return findings.FAILED
    return _done(args, result, dry_run=args.command == "plan")


def _done(args: argparse.Namespace, result: DocumentResult, *, dry_run: bool) -> int:
    """Print the result; the exit code (``--detailed-exitcode``: 2 when there are changes)."""
    if args.json:
        findings.dump(_result_json(result, dry_run))
    else:
        _print_result(sys.stdout, args.file, result, dry_run)
    detailed = getattr(args, "detailed_exitcode", False)
    return findings.CHANGES if detailed and result.changes.changed else findings.OK


def _confirm(args: argparse.Namespace, preview: DocumentResult) -> int | None:
    """Show the plan on stderr and ask on the terminal; ``None`` to go on, else the code."""
    if not sys.stdin.isatty():
        print(
            f"kops-iam apply: {preview.plan.cluster}: IAM differs from the spec, and stdin is "
            "not a terminal to ask on: nothing written. Run kops-iam plan to see the changes, "
            "then kops-iam apply --yes to make them.",
            file=sys.stderr,
        )
        return findings.USAGE
    _print_result(sys.stderr, args.file, preview, dry_run=True, warn=False)
    print(
        "\nkops-iam will make these IAM changes. Only 'yes' will be accepted to approve.",
        file=sys.stderr,
    )
    print("Enter a value: ", end="", file=sys.stderr, flush=True)
    try:
        answer = sys.stdin.readline().strip()
    except EOFError:  # pragma: no cover - readline returns "" at EOF
        answer = ""
    if answer != "yes":
        print("Apply cancelled: nothing written.", file=sys.stderr)
        return findings.FAILED
    return None


def _result_json(result: DocumentResult, dry_run: bool) -> dict[str, Any]:
    changes = result.changes
    return {
        "status": "planned" if dry_run else "applied",
        "cluster": result.plan.cluster,
        "changed": changes.changed,
        "changes": changes.summaries(),
        "writes": [w.describe() for w in (changes.writes if dry_run else result.written)],
        "warnings": list(result.plan.warnings),
    }


def _print_result(
    out: TextIO, path: str, result: DocumentResult, dry_run: bool, *, warn: bool = True
) -> None:
    if warn:
        findings.report_text(path, (), result.plan.warnings)
    changes = result.changes
    cluster = result.plan.cluster
    if not changes.changed:
        print(f"{cluster}: IAM already matches the spec (no changes)", file=out)
        return
    verb = "would change" if dry_run else "changed"
    print(f"{cluster}: {verb}:", file=out)
    _print_changes(out, changes)
    writes = changes.writes if dry_run else result.written
    _print_writes(out, writes, "IAM calls planned" if dry_run else "IAM calls made")


def _print_changes(out: TextIO, changes: ClusterChanges) -> None:
    for summary in changes.summaries():
        print(f"  {summary['action']:<9} {summary['roleName']} ({summary['kind']})", file=out)
        for name, policy in summary.get("inlinePolicies", {}).items():
            print(f"    policy {name}: {policy['change']}", file=out)
            for label, key in (("action", "actions"), ("resource", "resources")):
                for item in policy[key]["added"]:
                    print(f"      + {label} {item}", file=out)
                for item in policy[key]["removed"]:
                    print(f"      - {label} {item}", file=out)
        tags = summary.get("tags", {})
        for key, value in tags.get("added", {}).items():
            print(f"    + tag {key}={value}", file=out)
        for key, value in tags.get("changed", {}).items():
            print(f"    ~ tag {key}: {value['before']} -> {value['after']}", file=out)
        for key, value in tags.get("removed", {}).items():
            print(f"    - tag {key}={value}", file=out)
        if "trustPolicy" in summary and summary["action"] != "create":
            print("    ~ trust policy", file=out)
        if "permissionsBoundary" in summary:
            boundary = summary["permissionsBoundary"]
            print(f"    ~ boundary: {boundary['before']} -> {boundary['after']}", file=out)
        managed = summary.get("managedPolicies", {})
        for arn in managed.get("attached", []):
            print(f"    + managed policy {arn}", file=out)
        for arn in managed.get("detached", []):
            print(f"    - managed policy {arn}", file=out)
        if "instanceProfile" in summary:
            profile = summary["instanceProfile"]
            what = [k for k in ("created", "roleAdded", "deleted", "tags") if k in profile]
            print(f"    ~ instance profile {profile['name']}: {', '.join(what)}", file=out)


def _print_writes(out: TextIO, writes: tuple[Write, ...], title: str) -> None:
    if writes:
        print(f"  {title} ({len(writes)}):", file=out)
        for write in writes:
            print(f"    {write.describe()}", file=out)


def _explain(exc: BaseException) -> str:
    """A one-line message for an AWS or configuration problem."""
    from botocore.exceptions import (
        ClientError,
        EndpointConnectionError,
        NoCredentialsError,
        NoRegionError,
        ProfileNotFound,
    )

    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials found (set AWS_PROFILE/--profile or the AWS_* variables)"
    if isinstance(exc, ProfileNotFound):
        return f"{exc}"
    if isinstance(exc, NoRegionError):
        return "no AWS region (pass --region)"
    if isinstance(exc, EndpointConnectionError):
        return f"cannot reach AWS: {exc}"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {error.get('Code')}: {error.get('Message')}"
    return f"{type(exc).__name__}: {exc}"
