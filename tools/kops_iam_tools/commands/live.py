"""``kops-iam plan FILE`` and ``kops-iam apply FILE``: a spec file against live IAM.

The same :class:`~kops_iam.application.reconciler.Reconciler` the Lambda runs, with clients
built from ``--endpoint-url``/``--region``/``--profile`` (or the usual AWS environment).
``plan`` only reads; ``apply`` writes what differs. Neither publishes audit events (the
operator at the terminal is the audience). Exit codes: 0 ok, 1 invalid spec or failed apply,
2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any, TextIO

from kops_iam_tools.commands.offline import (
    add_option_arguments,
    options_from_args,
    read_spec,
    report,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.application.document import DocumentResult
    from kops_iam.aws.iam_diff import ClusterChanges, Write


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
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def run(args: argparse.Namespace) -> int:
    """Run ``plan`` or ``apply``; print the diff; return the exit code."""
    from kops_iam.domain.errors import SpecInvalid

    try:
        data = read_spec(args.file)
    except SpecInvalid as exc:
        report(args.file, exc.errors, "", sys.stderr)
        return 1
    try:
        return _run(args, data)
    except Exception as exc:  # noqa: BLE001 - the CLI contract: a message, never a traceback
        print(f"kops-iam {args.command}: {_explain(exc)}", file=sys.stderr)
        return 1


def _run(args: argparse.Namespace, data: bytes) -> int:
    import boto3

    from kops_iam.application.document import reconcile_document
    from kops_iam.application.reconciler import NotConverged, Reconciler, Rejected
    from kops_iam.application.settings import Settings
    from kops_iam.aws.iam_write import WriteFailed

    dry_run = args.command == "plan"
    settings = Settings(
        mode="plan" if dry_run else "apply",
        options=options_from_args(args),
        adopt_existing_roles=args.adopt_existing_roles,
        manage_root_path_roles=args.manage_root_path_roles,
    )
    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    if session.region_name is None:
        session = boto3.session.Session(profile_name=args.profile, region_name="us-east-1")
    config = settings.boto_config()
    endpoint = args.endpoint_url
    reconciler = Reconciler(
        settings,
        iam=session.client("iam", endpoint_url=endpoint, config=config),
        kms_factory=lambda region: session.client(
            "kms", region_name=region, endpoint_url=endpoint, config=config
        ),
        route53_factory=lambda: session.client("route53", endpoint_url=endpoint, config=config),
    )
    out = sys.stdout
    try:
        result = reconcile_document(reconciler, data, dry_run=dry_run)
    except Rejected as exc:
        if args.json:
            _dump(out, {"status": "rejected", "reason": exc.reason, "errors": _issues(exc.errors)})
        else:
            report(args.file, exc.errors, "", out)
            report(args.file, exc.warnings, "warning: ", out)
        return 1
    except WriteFailed as exc:
        payload = {
            "status": "failed",
            "error": str(exc),
            "completedWrites": [w.describe() for w in exc.completed],
        }
        if args.json:
            _dump(out, payload)
        else:
            print(f"{args.file}: apply failed: {exc}", file=sys.stderr)
            _print_writes(out, exc.completed, "done before the failure")
        return 1
    except NotConverged as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    if args.json:
        _dump(out, _result_json(result, dry_run))
    else:
        _print_result(out, args.file, result, dry_run)
    return 0


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


def _print_result(out: TextIO, path: str, result: DocumentResult, dry_run: bool) -> None:
    for warning in result.plan.warnings:
        print(f"{path}: warning: {warning}", file=sys.stderr)
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


def _issues(issues: Any) -> list[dict[str, str]]:
    return [{"path": i.path, "message": i.message} for i in issues]


def _dump(out: TextIO, payload: dict[str, Any]) -> None:
    json.dump(payload, out, indent=2, default=str)
    out.write("\n")


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
