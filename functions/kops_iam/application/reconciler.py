"""The reconciler: one object shared by the Lambda, the CLI, the local emulator and benchmarks.

:class:`Reconciler` takes injected boto3 clients and
:class:`~kops_iam.application.settings.Settings`; it never builds a client itself.
:meth:`Reconciler.reconcile_key` is the level-triggered reconcile of one spec key: read the
current object, apply it (or delete the cluster's roles when it is gone), verify the object
did not change meanwhile, else go round again; publish one audit event
(:mod:`kops_iam.application.audit_details`). :meth:`Reconciler.check_key` is a drift check's
cheap first look (:mod:`kops_iam.application.drift` runs the drift queue's checks), a spec
file against live IAM :mod:`kops_iam.application.document`.

Why read-apply-verify gives "newest spec wins" without a lock: docs/adr/0020.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

from kops_iam.application.audit_details import (
    AuditDetails,
    NotConverged,
    Outcome,
    PassResult,
    Rejected,
    Trigger,
    completed_writes,
)
from kops_iam.application.settings import Settings
from kops_iam.aws.audit import AuditPublisher, make_event
from kops_iam.aws.errors import error_code, is_throttling
from kops_iam.aws.iam_diff import CONFLICT_PRECEDENCE, ClusterChanges, Write, diff_cluster
from kops_iam.aws.iam_read import Observed, observe_cluster
from kops_iam.aws.iam_write import ConcurrentChange, PropagationRetry, execute
from kops_iam.aws.kms import KmsAliases
from kops_iam.aws.route53 import HostedZones, Route53Client
from kops_iam.aws.s3_source import (
    ObjectChanged,
    ObjectTooLarge,
    ObjectVersion,
    SpecSource,
    TooManyInstanceGroups,
    same_listing,
    same_state,
)
from kops_iam.domain.errors import Issue, SpecInvalid
from kops_iam.domain.lookups import Lookups
from kops_iam.domain.model import ClusterPlan, RoleKind
from kops_iam.domain.naming import partition_for_region
from kops_iam.domain.options import Options
from kops_iam.domain.state_store import (
    INSTANCE_GROUP_DIRECTORY,
    cluster_from_key,
    instance_group_from_key,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client

    from kops_iam.aws.iam_snapshot import IamSnapshot

log = logging.getLogger("kops-iam.reconciler")

#: Error codes of a request the caller's policy does not allow.
ACCESS_DENIED_CODES: Final = frozenset({"AccessDenied", "AccessDeniedException"})

#: An object of a cluster's input: ``(path its issues are reported at, bytes)``.
InputObject = tuple[str, bytes]
#: ``(objects, Options, Lookups) -> ClusterPlan``: the Cluster object first, then its
#: InstanceGroup objects (``instancegroup/<name>``).
Planner = Callable[[Sequence[InputObject], Options, Lookups], ClusterPlan]
#: The InstanceGroup objects one pass read (``None``: more than the bounds allow).
Listing = tuple[ObjectVersion, ...] | None

__all__ = ["NotConverged", "Outcome", "Reconciler", "Rejected", "default_planner"]


def default_planner(
    objects: Sequence[InputObject], options: Options, lookups: Lookups
) -> ClusterPlan:
    """:func:`kops_iam.domain.pipeline.plan_objects`, imported on first use (light cold start)."""
    from kops_iam.domain.pipeline import plan_objects

    return plan_objects(objects, options, lookups=lookups)


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
        To resolve the KMS aliases specs name (``DescribeKey``), in each cluster's region:
        ``kms_factory(region)`` makes the client of a region on first need; a lone ``kms``
        client serves its own region only. Without either, an alias is a spec error.
    route53, route53_factory
        boto3 Route53 client (or a function making one on first need), to find a strict
        spec's hosted zone (``ListHostedZonesByName``). Without either, a strict spec that
        does not give its zone id is a spec error.
    planner
        ``(objects, Options, Lookups) -> ClusterPlan``; the domain core by default.
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
        kms_factory: Callable[[str], KMSClient] | None = None,
        route53: Route53Client | None = None,
        route53_factory: Callable[[], Route53Client] | None = None,
        planner: Planner | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.kms = (
            KmsAliases(kms, kms_factory) if kms is not None or kms_factory is not None else None
        )
        self.zones = (
            HostedZones(route53, route53_factory)
            if route53 is not None or route53_factory is not None
            else None
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
        #: Whether the account's roles fit one bulk page (``None``: not known yet).
        self._one_page_account: bool | None = None
        region = s3.meta.region_name if s3 is not None else iam.meta.region_name
        self._partition = partition_for_region(region or "us-east-1")

    # ------------------------------------------------------------------ building blocks

    def lookups(self, cluster: str | None) -> Lookups:
        """What kops looked up, answered with this reconciler's clients: KMS aliases, the
        hosted zone, and (for a spec read from the bucket) the cluster's state store there."""
        return Lookups(
            kms_alias=self.kms.resolve if self.kms is not None else None,
            hosted_zone=self.zones.resolve if self.zones is not None else None,
            config_base=f"s3://{self.settings.bucket}/{cluster}" if cluster else None,
        )

    def plan_document(
        self,
        data: bytes,
        *,
        cluster: str | None = None,
        instance_groups: Sequence[tuple[str, bytes]] = (),
    ) -> ClusterPlan:
        """Parse, validate and compute the plan of a spec; check it names ``cluster``.

        ``data`` is the Cluster's object (or file), ``instance_groups`` the cluster's
        ``(name, bytes)`` InstanceGroup objects. ``cluster`` is given for a spec read from
        the bucket (``<cluster>/config``).

        Raises
        ------
        Rejected
            The spec is invalid (every error with its field path), or names another cluster.
        """
        objects: list[InputObject] = [("", data)]
        objects += [(f"{INSTANCE_GROUP_DIRECTORY}/{name}", body) for name, body in instance_groups]
        try:
            plan = self._planner(objects, self.settings.options, self.lookups(cluster))
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

    def observe(
        self, cluster: str, plan: ClusterPlan | None, *, bulk: bool = True
    ) -> dict[RoleKind, Observed]:
        """Read what IAM holds under the cluster's role names.

        With ``bulk`` and ``event_read = bulk``: one ``GetAccountAuthorizationDetails``
        page when it holds every role of the account (plus a read for each thing it cannot
        vouch for, :func:`~kops_iam.aws.iam_snapshot.observe_snapshot`). A bulk read that
        fails for any reason (throttling included) is done role by role instead; once the
        account has needed more than one page, or the action was denied, this reconciler
        reads role by role from then on (docs/adr/0121).
        """
        if bulk and self.settings.event_read == "bulk" and self._one_page_account is not False:
            from kops_iam.aws.iam_snapshot import observe_cluster_in_one_page

            try:
                observed = observe_cluster_in_one_page(self.iam, cluster, plan)
            except Exception as exc:  # noqa: BLE001 - the per-role reads decide
                # throttled too: the per-role reads are other actions, with their own rate
                log.warning(
                    "bulk IAM read failed, reading role by role: %s",
                    exc,
                    extra={"throttled": is_throttling(exc)},
                )
                if error_code(exc) in ACCESS_DENIED_CODES:
                    self.note_bulk_pages(None)  # not granted: not asked again
                return observe_cluster(self.iam, cluster, plan)
            if observed is not None:
                self._one_page_account = True
                return observed
            log.info("the account's roles take more than one page: reading role by role")
            self.note_bulk_pages(None)
        return observe_cluster(self.iam, cluster, plan)

    def note_bulk_pages(self, pages: int | None) -> None:
        """What a bulk read of the account took (``None``: it could not be used): a
        reconcile reads in bulk only while the account fits one page."""
        self._one_page_account = pages == 1

    def changes_for(
        self,
        cluster: str,
        plan: ClusterPlan | None,
        observed: dict[RoleKind, Observed] | None = None,
        *,
        bulk: bool = True,
    ) -> ClusterChanges:
        """Read the cluster's roles from IAM (unless ``observed`` already says what IAM
        holds; :meth:`observe`) and compute what must change (no write)."""
        if observed is None:
            observed = self.observe(cluster, plan, bulk=bulk)
        return diff_cluster(
            cluster,
            plan,
            observed,
            adopt=self.settings.adopt_existing_roles,
            retain=self.settings.retain_on_delete,
            path=self.settings.role_path,
            manage_root_path=self.settings.manage_root_path_roles,
            approval=self.settings.options.approval,
        )

    def settle(self, attempt: int) -> None:
        """Pause before re-reading IAM after a concurrent change (IAM is eventually
        consistent: a role just created elsewhere may not be readable yet)."""
        self._sleep(min(0.25 * 2 ** (attempt - 1), 2.0))

    def apply(self, changes: ClusterChanges) -> tuple[Write, ...]:
        """Perform the writes of ``changes`` (see :func:`kops_iam.aws.iam_write.execute`);
        writes on what they just created are retried while IAM catches up (bounded)."""
        return execute(self.iam, changes.writes, propagation=PropagationRetry(sleep=self._sleep))

    # ------------------------------------------------------------------ S3: one key

    def reconcile_key(
        self,
        key: str,
        *,
        trigger: Trigger = "manual",
        request_id: str | None = None,
        skip_missing: bool = False,
        quiet_retry: bool = False,
        retried: bool = True,
    ) -> Outcome:
        """Make IAM match the current object at ``key`` (level-triggered), audit the outcome.

        Each pass HEADs the object, reads exactly that version, applies it (or, when the
        object is gone, deletes the cluster's owned roles), then HEADs again. If the
        object changed meanwhile the pass is repeated, so the last pass of every invocation
        verified that it applied the newest version after its last write.

        Never raises for an AWS or spec problem: a failure is an ``Apply Failed`` event and
        an :class:`Outcome` with ``error`` set, which the caller turns into a failed
        invocation (``retried`` says in the event whether it will be tried again). With
        ``quiet_retry`` (a drift check that will be delivered again), a failure before any
        write is no event, only a log line: the outcome is ``deferred`` (docs/adr/0112).
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
        attempted: ObjectVersion | None = None  # the version the failing pass worked on
        try:
            for _ in range(self.settings.max_passes):
                context.passes += 1
                before = attempted = self.source.head(key)
                if before is None and skip_missing:
                    return Outcome(key=key, cluster=cluster, detail_type=None)
                try:
                    # a drift check already read IAM in bulk this period: its reconcile
                    # reads the cluster's own roles (docs/adr/0121)
                    current, groups = self._one_pass(cluster, before, bulk=trigger != "schedule")
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
                if same_state(before, after) and self._same_groups(cluster, after, groups):
                    return context.finish(current, earlier)
                log.info("spec changed while applying, going round again", extra=context.log)
                if current.written:
                    earlier.append(current)
            raise NotConverged(
                f"{key} kept changing during {self.settings.max_passes} read-apply-verify passes"
            )
        except Exception as exc:  # noqa: BLE001 - reported as Apply Failed, then re-raised by the caller
            if quiet_retry and not completed_writes(exc, earlier, current):
                log.warning(
                    "failed before any write, to be tried again: %s",
                    exc,
                    extra={**context.log, "throttled": is_throttling(exc)},
                )
                return Outcome(key=key, cluster=cluster, detail_type=None, error=exc, deferred=True)
            return context.failed(exc, earlier, current, attempted, retried=retried)

    def check_key(
        self, key: str, snapshot: IamSnapshot, *, request_id: str | None = None
    ) -> Outcome | None:
        """A drift check's first look: is the cluster at ``key`` as its spec says?

        Reads the current spec (one GET, the InstanceGroup listing and objects), plans it
        and compares the plan with ``snapshot`` (no IAM call). Returns the ``Spec
        Unchanged`` outcome (audited only with ``audit_unchanged_on_schedule``) when nothing
        differs, an outcome without a detail type when the spec is gone (a deletion is its
        own event's), and ``None`` whenever the full :meth:`reconcile_key` must decide: IAM
        differs, the spec is invalid or too large, a role belongs to someone else.
        AWS errors propagate (the caller decides about throttling).
        """
        from kops_iam.aws.iam_snapshot import observe_snapshot

        if self.source is None:
            raise RuntimeError("check_key needs an S3 client")
        cluster = cluster_from_key(key)
        if cluster is None:
            log.warning("not a spec key, ignored", extra={"key": key})
            return Outcome(key=key, cluster=None, detail_type=None)
        found = None
        try:
            found = self.source.current(key)
            if found is None:
                return Outcome(key=key, cluster=cluster, detail_type=None)
            version, data = found
            groups = self.source.instance_groups(cluster)
            plan = self.plan_document(
                data, cluster=cluster, instance_groups=self._read_groups(groups)
            )
        except (ObjectTooLarge, TooManyInstanceGroups, Rejected, ObjectChanged):
            return None
        observed = observe_snapshot(snapshot, cluster, plan)
        changes = self.changes_for(cluster, plan, observed)
        if changes.conflicts or changes.changed:
            return None
        context = AuditDetails(self, key, cluster, "schedule", request_id or str(uuid.uuid4()))
        context.passes = 1
        return context.finish(PassResult(version, changes, (), warnings=plan.warnings), [])

    def _one_pass(
        self, cluster: str, version: ObjectVersion | None, *, bulk: bool
    ) -> tuple[PassResult, Listing]:
        """Read the cluster's objects (its ``config``, then its InstanceGroups), apply.

        Returns the pass and the InstanceGroup listing it used, which the caller lists again
        after applying: an InstanceGroup added or removed meanwhile means another pass.
        """
        assert self.source is not None
        plan: ClusterPlan | None = None
        groups: Listing = ()
        try:
            if version is not None:
                groups = None
                groups = self.source.instance_groups(cluster)
                data = self.source.read(version)
                plan = self.plan_document(
                    data, cluster=cluster, instance_groups=self._read_groups(groups)
                )
            changes = self.changes_for(cluster, plan, bulk=bulk)
            raise_conflicts(changes)
        except (ObjectTooLarge, TooManyInstanceGroups) as exc:
            path = "" if isinstance(exc, ObjectTooLarge) else INSTANCE_GROUP_DIRECTORY
            rejected = Rejected("too-large", str(exc), [Issue(path, str(exc))])
            return PassResult(version, rejected=rejected), groups
        except Rejected as exc:
            return PassResult(version, rejected=exc), groups
        warnings = plan.warnings if plan is not None else ()
        if self.settings.dry_run or not changes.changed:
            return PassResult(version, changes, (), warnings=warnings), groups
        written = self.apply(changes)
        return PassResult(version, changes, written, warnings=warnings), groups

    def _read_groups(self, groups: tuple[ObjectVersion, ...]) -> list[tuple[str, bytes]]:
        """Each listed InstanceGroup object's name and bytes (pinned to the listed ETag)."""
        assert self.source is not None
        bodies: list[tuple[str, bytes]] = []
        for version in groups:
            found = instance_group_from_key(version.key)
            assert found is not None  # the listing keeps InstanceGroup keys only
            name = found[1]
            try:
                bodies.append((name, self.source.read(version)))
            except ObjectTooLarge as exc:
                path = f"{INSTANCE_GROUP_DIRECTORY}/{name}"
                message = f"{version.key} is {exc.size:,} bytes; the limit is {exc.limit:,}"
                raise Rejected("too-large", message, [Issue(path, message)]) from exc
        return bodies

    def _same_groups(self, cluster: str, after: ObjectVersion | None, groups: Listing) -> bool:
        """Whether the cluster's InstanceGroup objects are still those a pass read."""
        assert self.source is not None
        if after is None:
            return True  # the cluster is gone: its InstanceGroups do not matter
        try:
            now: Listing = self.source.instance_groups(cluster)
        except TooManyInstanceGroups:
            now = None
        if now is None or groups is None:
            return now is None and groups is None
        return same_listing(groups, now)

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
