"""The reconciler: one object shared by the Lambda, the CLI, the local emulator and benchmarks.

:class:`Reconciler` takes injected boto3 clients and
:class:`~kops_iam.application.settings.Settings`; it never builds a client itself.
:meth:`Reconciler.reconcile_key` is the level-triggered reconcile of one spec key: read the
current object, apply it (or delete the cluster's roles when it is gone), verify the object
did not change meanwhile, else go round again; publish one audit event
(:mod:`kops_iam.application.audit_details`). The scheduled drift run is
:mod:`kops_iam.application.scan`, a spec file against live IAM
:mod:`kops_iam.application.document`.

Why read-apply-verify gives "newest spec wins" without a lock: docs/adr/0020.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from kops_iam.application.audit_details import (
    AuditDetails,
    NotConverged,
    Outcome,
    PassResult,
    Rejected,
    Trigger,
)
from kops_iam.application.settings import Settings
from kops_iam.aws.audit import AuditPublisher, make_event
from kops_iam.aws.iam_diff import CONFLICT_PRECEDENCE, ClusterChanges, Write, diff_cluster
from kops_iam.aws.iam_read import observe_cluster
from kops_iam.aws.iam_write import ConcurrentChange, execute
from kops_iam.aws.kms import KmsAliases
from kops_iam.aws.s3_source import (
    ObjectChanged,
    ObjectTooLarge,
    ObjectVersion,
    SpecSource,
    same_state,
)
from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.model import ClusterPlan
from kops_iam.domain.naming import partition_for_region
from kops_iam.domain.options import Options
from kops_iam.domain.state_store import cluster_from_key

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

log = logging.getLogger("kops-iam.reconciler")

AliasResolver = Callable[[str], str]
Planner = Callable[[bytes, Options, AliasResolver | None], ClusterPlan]

__all__ = ["NotConverged", "Outcome", "Reconciler", "Rejected", "default_planner"]


def default_planner(
    data: bytes, options: Options, resolve_alias: AliasResolver | None
) -> ClusterPlan:
    """:func:`kops_iam.domain.pipeline.plan_spec`, imported on first use (light cold start)."""
    from kops_iam.domain.pipeline import plan_spec

    return plan_spec(data, options, resolve_alias)


class Reconciler:
    """Keeps IAM as the specs say. Thread-safe (boto3 clients are).

    Parameters
    ----------
    settings
        Operator settings (bucket, bus, mode, options, adoption, retention, limits).
    iam
        boto3 IAM client.
    s3
        boto3 S3 client (needed by :meth:`reconcile_key` and the scheduled scan).
    events
        boto3 EventBridge client; without it no audit event is published.
    kms, kms_factory
        boto3 KMS client (or a function making one on first need), to resolve KMS aliases
        named in specs (``DescribeKey``). Without either, an alias is a spec error.
    planner
        ``(bytes, Options, resolve_alias) -> ClusterPlan``; the domain core by default.
    sleep, clock
        Injected for tests (back-off of audit retries and of passes after a concurrent IAM
        change; scheduled-run deadline).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        iam: IAMClient,
        s3: S3Client | None = None,
        events: EventBridgeClient | None = None,
        kms: KMSClient | None = None,
        kms_factory: Callable[[], KMSClient] | None = None,
        planner: Planner | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.kms = (
            KmsAliases(kms, kms_factory) if kms is not None or kms_factory is not None else None
        )
        self.source = SpecSource(s3, settings.bucket, settings.max_object_bytes) if s3 else None
        self.publisher = (
            AuditPublisher(events, settings.bus_name, settings.audit_attempts, sleep)
            if events is not None
            else None
        )
        self._planner = planner or default_planner
        self.clock = clock
        self._sleep = sleep
        region = s3.meta.region_name if s3 is not None else iam.meta.region_name
        self._partition = partition_for_region(region or "us-east-1")

    # ------------------------------------------------------------------ building blocks

    def plan_document(self, data: bytes, *, cluster: str | None = None) -> ClusterPlan:
        """Parse, validate and compute the plan of a spec; check it names ``cluster``.

        Raises
        ------
        Rejected
            The spec is invalid (every error with its field path), or names another cluster.
        """
        resolver = self.kms.resolve if self.kms is not None else None
        try:
            plan = self._planner(data, self.settings.options, resolver)
        except SpecInvalid as exc:
            raise Rejected(
                "invalid-spec",
                f"the spec has {len(exc.errors)} error(s)",
                exc.errors,
                exc.warnings,
            ) from exc
        if cluster is not None and plan.cluster != cluster:
            raise Rejected(
                "cluster-mismatch",
                f"metadata.name {plan.cluster!r} differs from the cluster of the key ({cluster!r})",
                [
                    Issue(
                        "metadata.name",
                        f"must be {cluster!r}, the cluster segment of the object key "
                        f"(the key prefix is the authorization boundary), not {plan.cluster!r}",
                    )
                ],
            )
        return plan

    def changes_for(self, cluster: str, plan: ClusterPlan | None) -> ClusterChanges:
        """Read the cluster's roles from IAM and compute what must change (no write)."""
        observed = observe_cluster(self.iam, cluster, plan)
        return diff_cluster(
            cluster,
            plan,
            observed,
            adopt=self.settings.adopt_existing_roles,
            retain=self.settings.retain_on_delete,
            path=self.settings.role_path,
            manage_root_path=self.settings.manage_root_path_roles,
        )

    def settle(self, attempt: int) -> None:
        """Pause before re-reading IAM after a concurrent change (IAM is eventually
        consistent: a role just created elsewhere may not be readable yet)."""
        self._sleep(min(0.25 * 2 ** (attempt - 1), 2.0))

    def apply(self, changes: ClusterChanges) -> tuple[Write, ...]:
        """Perform the writes of ``changes`` (see :func:`kops_iam.aws.iam_write.execute`)."""
        return execute(self.iam, changes.writes)

    # ------------------------------------------------------------------ S3: one key

    def reconcile_key(
        self,
        key: str,
        *,
        trigger: Trigger = "manual",
        request_id: str | None = None,
        skip_missing: bool = False,
    ) -> Outcome:
        """Make IAM match the current object at ``key`` (level-triggered), audit the outcome.

        Each pass HEADs the object, reads exactly that version, applies it (or, when the
        object is gone, deletes the cluster's owned roles), then HEADs again. If the
        object changed meanwhile the pass is repeated, so the last pass of every invocation
        verified that it applied the newest version after its last write.

        Never raises for an AWS or spec problem: a failure is an ``Apply Failed`` event and
        an :class:`Outcome` with ``error`` set, which the caller turns into a failed
        invocation.
        """
        if self.source is None:
            raise RuntimeError("reconcile_key needs an S3 client")
        request_id = request_id or str(uuid.uuid4())
        cluster = cluster_from_key(key)
        if cluster is None:
            log.warning("not a spec key, ignored", extra={"key": key})
            return Outcome(key=key, cluster=None, detail_type=None)
        context = AuditDetails(self, key, cluster, trigger, request_id)
        earlier: list[PassResult] = []
        current: PassResult | None = None
        try:
            for _ in range(self.settings.max_passes):
                context.passes += 1
                before = self.source.head(key)
                if before is None and skip_missing:
                    return Outcome(key=key, cluster=cluster, detail_type=None)
                try:
                    current = self._one_pass(cluster, before)
                except ObjectChanged:
                    continue
                except ConcurrentChange as exc:
                    log.info(
                        "IAM changed under the pass, reading again: %s", exc, extra=context.log
                    )
                    if exc.completed:
                        earlier.append(PassResult(before, None, exc.completed))
                    self.settle(context.passes)
                    continue
                after = self.source.head(key)
                if same_state(before, after):
                    return context.finish(current, earlier)
                log.info("spec changed while applying, going round again", extra=context.log)
                if current.written:
                    earlier.append(current)
            raise NotConverged(
                f"{key} kept changing during {self.settings.max_passes} read-apply-verify passes"
            )
        except Exception as exc:  # noqa: BLE001 - reported as Apply Failed, then re-raised by the caller
            return context.failed(exc, earlier, current)

    def _one_pass(self, cluster: str, version: ObjectVersion | None) -> PassResult:
        assert self.source is not None
        plan: ClusterPlan | None = None
        try:
            if version is not None:
                data = self.source.read(version)
                plan = self.plan_document(data, cluster=cluster)
            changes = self.changes_for(cluster, plan)
            raise_conflicts(changes)
        except ObjectTooLarge as exc:
            return PassResult(
                version, rejected=Rejected("too-large", str(exc), [Issue("", str(exc))])
            )
        except Rejected as exc:
            return PassResult(version, rejected=exc)
        warnings = plan.warnings if plan is not None else ()
        if self.settings.dry_run or not changes.changed:
            return PassResult(version, changes, (), warnings=warnings)
        written = self.apply(changes)
        return PassResult(version, changes, written, warnings=warnings)

    # ------------------------------------------------------------------ audit

    def publish(
        self, detail_type: str, detail: Mapping[str, Any], resources: Sequence[str]
    ) -> bool | None:
        """Publish one audit event (``None`` when there is no bus client)."""
        if self.publisher is None:
            return None
        return self.publisher.publish(make_event(detail_type, detail, resources))

    def object_arn(self, key: str) -> str:
        """ARN of a spec object (the ``resources`` of its audit events)."""
        return f"arn:{self._partition}:s3:::{self.settings.bucket}/{key}"


def raise_conflicts(changes: ClusterChanges) -> None:
    """Reject the spec when a role it needs is not its cluster's to write (nothing is
    written): the reason is the most severe conflict (a name collision first), the errors
    name every role."""
    if changes.conflicts:
        codes = {c.code for c in changes.conflicts}
        reason = next(code for code in CONFLICT_PRECEDENCE if code in codes)
        raise Rejected(
            reason,
            "; ".join(c.reason for c in changes.conflicts),
            [Issue(f"roles.{c.kind}", c.reason) for c in changes.conflicts],
        )
