"""A fleet in the test world, fast: clusters provisioned as their first apply leaves them.

Applying 10,000 clusters through the function (one ``Object Created`` event each) takes
hours on moto: every IAM call scans the account (moto looks roles up by scanning them all),
and a first apply makes 14 of them. A fleet benchmark needs the clusters *there*, not the
first apply timed 10,000 times. :func:`provision_clusters` gets there without the function's
reads, events or audit, and without leaving what the function would have left:

* the spec goes into the specs bucket (moto's S3 backend: the same object and version an
  upload makes, without the S3 notifications, which are the first apply's events);
* the IAM writes are **the reconciler's own**: its ``plan_document`` plans the spec (the
  function's parser, validation, guardrail and policy computation), its ``changes_for``
  diffs the plan against an account without the cluster's roles, and
  :func:`kops_iam.aws.iam_write.execute` performs the writes, in order, on :class:`BackendIam`,
  which hands each one to moto's IAM backend (what moto's own request handler calls with
  the same parameters), skipping only the HTTP/XML round trip.

Nothing here is on the world's wire: not counted, no latency, no fault. Equivalence is a
test (``tests/integration/test_fleet_provisioning.py``): a cluster provisioned this way is
``Spec Unchanged`` for the reconciler, with no write, and its IAM state equals that of a
cluster the function applied.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from kops_iam.application.settings import Settings
from kops_iam.aws.iam_diff import Write
from kops_iam.aws.iam_read import Observed
from kops_iam.aws.iam_write import execute
from kops_iam.domain.model import ROLE_KINDS
from kops_iam_tools.world.moto_quirks import DISPATCH_LOCK
from support import moto_scale
from support.world import World, test_client


class BackendIam:
    """The IAM writes of a first apply, with boto3's method names and parameters, on moto's
    IAM backend (as moto's request handler passes them). Anything else is refused."""

    def __init__(self, backend: Any) -> None:
        self._backend = backend

    def create_role(
        self,
        *,
        RoleName: str,
        AssumeRolePolicyDocument: str,
        Path: str | None = None,
        PermissionsBoundary: str | None = None,
        Description: str | None = None,
        Tags: Sequence[dict[str, str]] = (),
        MaxSessionDuration: int = 3600,
    ) -> None:
        self._backend.create_role(
            RoleName,
            AssumeRolePolicyDocument,
            Path,
            PermissionsBoundary,
            Description,
            [dict(t) for t in Tags],
            MaxSessionDuration,
        )

    def put_role_policy(self, *, RoleName: str, PolicyName: str, PolicyDocument: str) -> None:
        self._backend.put_role_policy(RoleName, PolicyName, PolicyDocument)

    def attach_role_policy(self, *, RoleName: str, PolicyArn: str) -> None:
        self._backend.attach_role_policy(PolicyArn, RoleName)

    def put_role_permissions_boundary(self, *, RoleName: str, PermissionsBoundary: str) -> None:
        self._backend.put_role_permissions_boundary(RoleName, PermissionsBoundary)

    def tag_role(self, *, RoleName: str, Tags: Sequence[dict[str, str]]) -> None:
        self._backend.tag_role(RoleName, [dict(t) for t in Tags])

    def create_instance_profile(
        self,
        *,
        InstanceProfileName: str,
        Path: str = "/",
        Tags: Sequence[dict[str, str]] = (),
    ) -> None:
        self._backend.create_instance_profile(
            InstanceProfileName, Path, role_names=[], tags=[dict(t) for t in Tags]
        )

    def tag_instance_profile(
        self, *, InstanceProfileName: str, Tags: Sequence[dict[str, str]]
    ) -> None:
        self._backend.tag_instance_profile(
            instance_profile_name=InstanceProfileName, tags=[dict(t) for t in Tags]
        )

    def add_role_to_instance_profile(self, *, InstanceProfileName: str, RoleName: str) -> None:
        self._backend.add_role_to_instance_profile(InstanceProfileName, RoleName)

    def __getattr__(self, name: str) -> Any:
        raise NotImplementedError(f"{name}: not a write of a first apply")


@dataclass(frozen=True)
class Provisioned:
    """What :func:`provision_clusters` wrote."""

    clusters: int
    writes: int
    #: ``(key, version id)`` of each spec uploaded.
    versions: tuple[tuple[str, str | None], ...]


def provision_clusters(
    world: World,
    specs: Iterable[tuple[str, bytes]],
    settings: Settings | None = None,
) -> Provisioned:
    """Upload each ``(cluster, spec)`` and write the IAM its first apply would write.

    ``settings`` as the function's (default: the world's). A spec the reconciler rejects,
    or a cluster whose roles already exist, raises: the fleet would not be what it says.
    """
    from moto.iam.models import iam_backends
    from moto.s3.models import s3_backends

    reconciler = world.reconciler(
        settings,
        iam=test_client("iam"),
        s3=test_client("s3"),
        events=test_client("events"),
        kms_factory=lambda region: test_client("kms", region),
    )
    account = world.account
    iam = BackendIam(iam_backends[account]["aws"])
    s3 = s3_backends[account]["aws"]
    absent = {kind: Observed(role=None, profile=None) for kind in ROLE_KINDS}
    writes = 0
    clusters = 0
    versions: list[tuple[str, str | None]] = []
    for cluster, body in specs:
        key = world.key(cluster)
        plan = reconciler.plan_document(body, cluster=cluster)
        changes = reconciler.changes_for(cluster, plan, dict(absent))
        if changes.conflicts:
            raise RuntimeError(f"{cluster}: {changes.conflicts}")
        planned: tuple[Write, ...] = changes.writes
        with DISPATCH_LOCK:
            # no notification: they are the events of the first apply this replaces
            stored = s3.put_object(world.bucket, key, body, disable_notification=True)
            execute(iam, planned)  # type: ignore[arg-type]
            moto_scale.iam_changed()
        versions.append((key, stored.version_id))
        writes += len(planned)
        clusters += 1
    return Provisioned(clusters=clusters, writes=writes, versions=tuple(versions))
