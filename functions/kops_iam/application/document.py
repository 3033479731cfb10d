"""A spec file against live IAM (``kops-iam plan``/``apply``): no S3, no audit event."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kops_iam.application.audit_details import NotConverged
from kops_iam.application.reconciler import raise_conflicts
from kops_iam.aws.iam_diff import ClusterChanges, Write
from kops_iam.aws.iam_write import ConcurrentChange
from kops_iam.domain.model import ClusterPlan

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam.application.reconciler import Reconciler


@dataclass(frozen=True)
class DocumentResult:
    """A spec file against live IAM: the plan, the changes, and the writes made."""

    plan: ClusterPlan
    changes: ClusterChanges
    written: tuple[Write, ...]
    passes: int = 1


def reconcile_document(reconciler: Reconciler, data: bytes, *, dry_run: bool) -> DocumentResult:
    """Diff a spec file against live IAM and (unless ``dry_run``) apply it.

    Raises
    ------
    Rejected
        Invalid spec, or a role the spec needs belongs to someone else.
    kops_iam.aws.iam_write.WriteFailed
        An IAM write failed for good.
    NotConverged
        IAM kept changing under every pass.
    """
    plan = reconciler.plan_document(data)
    written: list[Write] = []
    for attempt in range(1, reconciler.settings.max_passes + 1):
        changes = reconciler.changes_for(plan.cluster, plan)
        raise_conflicts(changes)
        if dry_run:
            return DocumentResult(plan, changes, (), attempt)
        try:
            written.extend(reconciler.apply(changes))
        except ConcurrentChange as exc:
            written.extend(exc.completed)
            reconciler.settle(attempt)
            continue
        return DocumentResult(plan, changes, tuple(written), attempt)
    raise NotConverged(f"IAM kept changing during {reconciler.settings.max_passes} passes")
