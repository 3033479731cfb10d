"""The ``kops-iam demo`` scenario: the whole flow on the embedded AWS, step by step.

Each step acts only through the AWS APIs a user has (S3 uploads and deletions, an IAM edit
by hand, the drift schedule's event), waits for the local runner to deliver the events to
``lambda_handler``, then reads back what happened: the invocations, the audit events from
the tail queue, and the roles in IAM. The result of each step is a :class:`Step` (plain
data: the ``--json`` document is made of them); :mod:`kops_iam_tools.render` prints it.

The steps: upload the valid sample specs (each cluster's roles and their actions); add a
bastion InstanceGroup object next to one cluster's spec (the bastions role appears); edit one
additional policy (the diff); upload an invalid sample (every error, IAM untouched); delete
a spec (the roles go); change a role policy by hand and run the drift schedule (``Drift
Corrected``). Every step checks its expectation; :attr:`Step.ok` says whether it held.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from kops_iam.aws.audit import DetailType
from kops_iam.domain.model import ROLE_KINDS, JSONDict
from kops_iam.domain.naming import additional_policy_name, role_name
from kops_iam_tools.emulator import (
    DELIVERY_ATTEMPTS,
    Emulator,
    FunctionConfig,
    Invocation,
    Runner,
    placeholder_policy,
)

if TYPE_CHECKING:  # pragma: no cover - typing only
    from mypy_boto3_iam import IAMClient

#: The valid samples the demo uploads, in order (events/specs/, shipped as
#: ``kops_iam_tools/samples``: see :func:`packaged_samples`).
SAMPLES: Final = (
    "kops-page-example.yaml",
    "encrypted-etcd.yaml",
    "bastion-all-roles.yaml",
    "china-region.yaml",
)
#: The invalid sample (events/specs/invalid/): two errors in one statement.
INVALID_SAMPLE: Final = "invalid/action-and-notaction.yaml"
#: The sample whose node additional policy the edit step changes.
EDITED_SAMPLE: Final = "kops-page-example.yaml"
#: The sample whose spec the deletion step removes.
DELETED_SAMPLE: Final = "china-region.yaml"
#: The sample whose node role someone changes by hand in the drift step.
DRIFTED_SAMPLE: Final = "encrypted-etcd.yaml"
#: The bastion InstanceGroup (events/specs/instancegroups/) the bastion step adds to the
#: state store, at <cluster>/instancegroup/<name> next to this sample's Cluster.
BASTION_GROUP: Final = "instancegroups/bastions.yaml"
BASTION_SAMPLE: Final = "encrypted-etcd.yaml"
#: The steps, in order.
STEPS: Final = ("upload", "bastion", "edit", "reject", "delete", "drift")
#: What the edit step puts in place of the node additional policy.
EDITED_NODE_POLICY: Final = (
    {"Effect": "Allow", "Action": ["dynamodb:*"], "Resource": ["*"]},
    {
        "Sid": "Queues",
        "Effect": "Allow",
        "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
        "Resource": ["arn:aws:sqs:eu-central-1:*:example-*"],
    },
)
#: The statement "someone" adds by hand to a node role in the drift step.
HAND_MADE_STATEMENT: Final = {
    "Sid": "AddedByHand",
    "Effect": "Allow",
    "Action": ["iam:AttachRolePolicy", "s3:DeleteBucket"],
    "Resource": "*",
}
#: Seconds to wait for the runner to deliver one event.
WAIT_SECONDS: Final = 30.0


class DemoError(RuntimeError):
    """The demo could not run (missing sample, an event never arrived, ...)."""


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Statement:
    """One statement of a policy, as the tables show it."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    negated: bool = False  # NotAction
    conditional: bool = False

    def to_dict(self) -> JSONDict:
        return {
            "effect": self.effect,
            "actions" if not self.negated else "notActions": list(self.actions),
            "resources": list(self.resources),
            "conditional": self.conditional,
        }


@dataclass(frozen=True)
class PolicyView:
    """A policy on a role: ``inline`` (main or ``additional``), ``managed`` or ``boundary``."""

    kind: str
    name: str
    statements: tuple[Statement, ...] = ()

    def to_dict(self) -> JSONDict:
        return {
            "kind": self.kind,
            "name": self.name,
            "statements": [s.to_dict() for s in self.statements],
        }


@dataclass(frozen=True)
class RoleView:
    """A role as IAM holds it: its policies, tags and instance profile."""

    kind: str
    name: str
    policies: tuple[PolicyView, ...]
    tags: Mapping[str, str]
    instance_profile: bool
    trusted: tuple[str, ...] = ()

    def to_dict(self) -> JSONDict:
        return {
            "kind": self.kind,
            "roleName": self.name,
            "trusted": list(self.trusted),
            "instanceProfile": self.instance_profile,
            "tags": dict(self.tags),
            "policies": [p.to_dict() for p in self.policies],
        }


@dataclass(frozen=True)
class ClusterView:
    """The roles IAM holds for one cluster."""

    cluster: str
    roles: tuple[RoleView, ...]

    def to_dict(self) -> JSONDict:
        return {"cluster": self.cluster, "roles": [r.to_dict() for r in self.roles]}


@dataclass
class Step:
    """What one step did, what the function did, and what IAM holds afterwards."""

    name: str
    title: str
    story: str
    actions: list[str] = field(default_factory=list)
    invocations: list[JSONDict] = field(default_factory=list)
    audit: list[JSONDict] = field(default_factory=list)
    clusters: list[ClusterView] = field(default_factory=list)
    errors: list[JSONDict] = field(default_factory=list)
    facts: JSONDict = field(default_factory=dict)
    expected: str = ""
    ok: bool = True
    seconds: float = 0.0

    def to_dict(self) -> JSONDict:
        return {
            "step": self.name,
            "title": self.title,
            "story": self.story,
            "actions": self.actions,
            "invocations": self.invocations,
            "audit": self.audit,
            "iam": [c.to_dict() for c in self.clusters],
            "errors": self.errors,
            "facts": self.facts,
            "expected": self.expected,
            "ok": self.ok,
            "seconds": round(self.seconds, 3),
        }


# --------------------------------------------------------------------------- reading IAM


def _as_list(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    return tuple(str(v) for v in value)


def statements_of(document: Mapping[str, Any]) -> tuple[Statement, ...]:
    """The statements of a policy document (one statement may be a lone object)."""
    result = []
    for item in statements_raw(document):
        negated = "NotAction" in item
        result.append(
            Statement(
                effect=str(item.get("Effect", "")),
                actions=_as_list(item.get("NotAction" if negated else "Action")),
                resources=_as_list(item.get("Resource", item.get("NotResource"))),
                negated=negated,
                conditional="Condition" in item,
            )
        )
    return tuple(result)


def _no_such_entity(exc: Exception) -> bool:
    response = getattr(exc, "response", None) or {}
    return bool(response.get("Error", {}).get("Code") == "NoSuchEntity")


def read_role(iam: IAMClient, kind: str, name: str) -> RoleView | None:
    """A role with its inline, managed and boundary policies, or ``None`` when absent."""
    from botocore.exceptions import ClientError

    try:
        role = iam.get_role(RoleName=name)["Role"]
    except ClientError as exc:
        if _no_such_entity(exc):
            return None
        raise
    policies: list[PolicyView] = []
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        label = "additional" if policy_name == additional_policy_name(name) else "inline"
        if policy_name == name:
            label = "main"
        policies.append(PolicyView(label, policy_name, statements_of(_document(document))))
    policies.sort(key=lambda p: {"main": 0, "additional": 1}.get(p.kind, 2))
    for attached in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]:
        policies.append(PolicyView("managed", attached["PolicyName"]))
    boundary = role.get("PermissionsBoundary", {}).get("PermissionsBoundaryArn")
    if boundary:
        policies.append(PolicyView("boundary", boundary.rsplit("/", 1)[-1]))
    profiles = iam.list_instance_profiles_for_role(RoleName=name)["InstanceProfiles"]
    return RoleView(
        kind=kind,
        name=name,
        policies=tuple(policies),
        tags={t["Key"]: t["Value"] for t in role.get("Tags", [])},
        instance_profile=any(p["InstanceProfileName"] == name for p in profiles),
        trusted=_trusted_services(_document(role.get("AssumeRolePolicyDocument") or {})),
    )


def _trusted_services(document: Mapping[str, Any]) -> tuple[str, ...]:
    services: list[str] = []
    for statement in statements_raw(document):
        principal = statement.get("Principal")
        if isinstance(principal, Mapping):
            for service in _as_list(principal.get("Service")):
                if service not in services:
                    services.append(service)
    return tuple(services)


def statements_raw(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The statements of a policy document as a list (one may be a lone object)."""
    raw = document.get("Statement", [])
    items = [raw] if isinstance(raw, Mapping) else list(raw)
    return [i for i in items if isinstance(i, Mapping)]


def _document(document: Any) -> Mapping[str, Any]:
    if isinstance(document, str):
        from urllib.parse import unquote

        loaded: Mapping[str, Any] = json.loads(unquote(document))
        return loaded
    return dict(document)


def read_cluster(iam: IAMClient, cluster: str) -> ClusterView:
    """The roles kops would name for ``cluster`` that IAM holds."""
    roles = []
    for kind in ROLE_KINDS:
        view = read_role(iam, kind, role_name(kind, cluster))
        if view is not None:
            roles.append(view)
    return ClusterView(cluster, tuple(roles))


def iam_snapshot(iam: IAMClient) -> JSONDict:
    """Everything IAM holds about roles (policies, tags, boundary, profiles), by role name.

    One ``GetAccountAuthorizationDetails`` listing, so comparing two snapshots proves that
    nothing about any role changed in between.
    """
    state: JSONDict = {}
    for page in iam.get_paginator("get_account_authorization_details").paginate(Filter=["Role"]):
        for role in page.get("RoleDetailList", []):
            state[role["RoleName"]] = {
                "trust": role.get("AssumeRolePolicyDocument"),
                "inline": {
                    p["PolicyName"]: p.get("PolicyDocument") for p in role.get("RolePolicyList", [])
                },
                "managed": sorted(p["PolicyArn"] for p in role.get("AttachedManagedPolicies", [])),
                "boundary": role.get("PermissionsBoundary"),
                "tags": sorted((t["Key"], t["Value"]) for t in role.get("Tags", [])),
                "profiles": sorted(
                    (p["InstanceProfileName"], tuple(r["RoleName"] for r in p.get("Roles", [])))
                    for p in role.get("InstanceProfileList", [])
                ),
            }
    return state


# --------------------------------------------------------------------------- samples


@dataclass(frozen=True)
class Sample:
    """A sample spec file: its cluster name and bytes."""

    path: Path
    cluster: str
    data: bytes
    document: Mapping[str, Any]

    @property
    def label(self) -> str:
        """Path relative to the samples directory (e.g. ``invalid/x.yaml``)."""
        return self.path.name if self.path.parent.name != "invalid" else f"invalid/{self.path.name}"


def packaged_samples() -> Path:
    """The sample specs shipped with the package: ``kops_iam_tools/samples``.

    In a checkout that directory is a symbolic link to ``events/specs`` (one copy of each
    file, editable installs included); a wheel holds the files themselves (docs/adr/0080).
    """
    from importlib.resources import files

    return Path(str(files("kops_iam_tools").joinpath("samples")))


def load_sample(directory: Path, name: str) -> Sample:
    """Read a sample spec; its cluster is ``metadata.name``.

    Raises
    ------
    DemoError
        The file is missing or has no ``metadata.name``.
    """
    import yaml

    path = directory / name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DemoError(f"sample spec {path} not readable: {exc.strerror or exc}") from exc
    document = yaml.safe_load(data)
    cluster = (
        (document or {}).get("metadata", {}).get("name") if isinstance(document, dict) else None
    )
    if not isinstance(cluster, str) or not cluster:
        raise DemoError(f"sample spec {path} has no metadata.name")
    return Sample(path, cluster, data, document)


def named_managed_policies(samples: Iterable[Sample]) -> tuple[list[str], list[str]]:
    """ARNs of the boundaries and of the external policies the samples name."""
    boundaries: list[str] = []
    external: list[str] = []
    for sample in samples:
        spec = sample.document.get("spec") or {}
        boundary = (spec.get("iam") or {}).get("permissionsBoundary")
        if isinstance(boundary, str) and boundary not in boundaries:
            boundaries.append(boundary)
        for arns in (spec.get("externalPolicies") or {}).values():
            for arn in arns or ():
                if isinstance(arn, str) and arn not in external:
                    external.append(arn)
    return boundaries, external


def named_escalations(samples: Iterable[Sample]) -> list[str]:
    """Escalation actions the samples' ``additionalPolicies`` grant by name.

    An operator reviews such a request and approves exactly those actions
    (``--allow-action``, ``kops-iam:allowedActions``); wildcards and ``NotAction`` lists are
    never approved this way, so the invalid sample stays invalid.
    """
    from kops_iam.domain.guardrail import ESCALATION_ACTIONS

    wanted = {action.lower(): action for action in ESCALATION_ACTIONS}
    found: list[str] = []
    for sample in samples:
        spec = sample.document.get("spec") or {}
        for text in (spec.get("additionalPolicies") or {}).values():
            try:
                statements = json.loads(text) if isinstance(text, str) else []
            except ValueError:
                continue
            for statement in statements if isinstance(statements, list) else []:
                if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
                    continue
                actions = statement.get("Action", [])
                for action in [actions] if isinstance(actions, str) else actions:
                    name = wanted.get(str(action).lower())
                    if name is not None and name not in found:
                        found.append(name)
    return found


def edited_spec(sample: Sample) -> bytes:
    """``sample`` with its node additional policy replaced by :data:`EDITED_NODE_POLICY`."""
    import yaml

    document = copy.deepcopy(dict(sample.document))
    policies = document.setdefault("spec", {}).setdefault("additionalPolicies", {})
    policies["node"] = json.dumps(list(EDITED_NODE_POLICY), indent=1) + "\n"
    text: str = yaml.safe_dump(document, sort_keys=False)
    return text.encode("utf-8")


# --------------------------------------------------------------------------- the scenario


def emulator_for(
    samples: Sequence[Sample], *, port: int = 0, delivery: str = "notification"
) -> Emulator:
    """An emulator whose account holds the managed policies the samples name.

    Their boundaries and external policies are created in moto as customer managed policies
    (harmless placeholders), and the function is configured to allow those external
    policies, as an operator would (``kops-iam:allowedManagedPolicyArns``), and the
    escalation actions the samples ask for by name (``kops-iam:allowedActions``:
    ``bastion-all-roles.yaml``'s bastion may start SSM sessions).
    """
    boundaries, external = named_managed_policies(samples)
    names = {arn.rsplit("/", 1)[-1]: arn for arn in boundaries + external}
    return Emulator(
        port=port,
        delivery=delivery,  # type: ignore[arg-type]  # checked by Emulator
        function=FunctionConfig(
            allowed_actions=tuple(named_escalations(samples)),
            allowed_managed_policies=tuple(external),
        ),
        managed_policies={name: placeholder_policy(name) for name in names},
    )


class Scenario:
    """Runs the demo's steps on a started emulator and runner.

    ``on_step`` receives each :class:`Step` as soon as it is done (the terminal report
    prints it at once).
    """

    def __init__(
        self,
        emulator: Emulator,
        runner: Runner,
        samples: Sequence[Sample],
        invalid: Sample,
        on_step: Callable[[Step], None] = lambda _step: None,
    ) -> None:
        self.emulator = emulator
        self.runner = runner
        self.samples = list(samples)
        self.invalid = invalid
        self.on_step = on_step
        self.steps: list[Step] = []
        self._by_name = {s.path.name: s for s in self.samples}

    def run(self) -> list[Step]:
        """Every step in order; stops at the first step whose expectation failed."""
        for name in STEPS:
            step: Callable[[], Step] = getattr(self, name)
            started = time.perf_counter()
            result = step()
            result.seconds = time.perf_counter() - started
            self.steps.append(result)
            self.on_step(result)
            if not result.ok:
                break
        return self.steps

    @property
    def ok(self) -> bool:
        """Whether every step ran and held its expectation."""
        return len(self.steps) == len(STEPS) and all(s.ok for s in self.steps)

    # -- helpers --------------------------------------------------------------------

    def _sample(self, name: str) -> Sample:
        sample = self._by_name.get(name)
        if sample is None:
            raise DemoError(f"the demo needs the sample {name}")
        return sample

    def _put(self, cluster: str, data: bytes) -> Invocation:
        key = self.emulator.spec_key(cluster)
        since = len(self.runner.invocations)
        self.emulator.s3.put_object(Bucket=self.emulator.bucket, Key=key, Body=data)
        return self._wait(key, since)

    def _wait(self, key: str, since: int) -> Invocation:
        try:
            return self.runner.wait_for(
                lambda inv: key in inv.keys and (inv.ok or inv.attempt >= DELIVERY_ATTEMPTS),
                WAIT_SECONDS,
                since=since,
            )
        except TimeoutError as exc:
            raise DemoError(
                f"no invocation of the function for s3://{self.emulator.bucket}/{key} within "
                f"{WAIT_SECONDS:g} s"
            ) from exc

    def _audit(self) -> list[JSONDict]:
        return [audit_entry(e) for e in self.emulator.audit_events()]

    def _event_path(self) -> str:
        if self.emulator.delivery == "eventbridge":
            return "an S3 event through EventBridge (a rule matching the spec keys)"
        return "an S3 event notification (ObjectCreated)"

    def _url(self, cluster: str) -> str:
        return f"s3://{self.emulator.bucket}/{self.emulator.spec_key(cluster)}"

    # -- steps ----------------------------------------------------------------------

    def upload(self) -> Step:
        step = Step(
            "upload",
            "Upload the sample specs",
            f"Each upload sends {self._event_path()}; the runner hands it to lambda_handler, "
            "which validates the spec, computes the kops policies and writes them to IAM.",
            expected=f"{DetailType.SPEC_APPLIED} for every sample",
        )
        for sample in self.samples:
            step.actions.append(f"PUT {self._url(sample.cluster)}  ← {sample.label}")
            invocation = self._put(sample.cluster, sample.data)
            step.invocations.append(invocation_entry(invocation))
        step.audit = self._audit()
        step.clusters = [read_cluster(self.emulator.iam, s.cluster) for s in self.samples]
        step.ok = _all_outcomes(step, DetailType.SPEC_APPLIED, len(self.samples)) and all(
            c.roles for c in step.clusters
        )
        return step

    def bastion(self) -> Step:
        sample = self._sample(BASTION_SAMPLE)
        path = sample.path.parent / BASTION_GROUP
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise DemoError(f"sample {path} not readable: {exc.strerror or exc}") from exc
        key = f"{sample.cluster}/instancegroup/{path.stem}"
        step = Step(
            "bastion",
            "Add a bastion InstanceGroup",
            "A kops state store keeps each InstanceGroup at <cluster>/instancegroup/<name>. "
            f"Adding one with role: Bastion next to {sample.cluster}'s spec reconciles that "
            "cluster: kops made a bastions role for it, and so does kops-iam.",
            expected=f"{DetailType.SPEC_APPLIED} creating the bastions role",
        )
        step.actions.append(f"PUT s3://{self.emulator.bucket}/{key}  ← {BASTION_GROUP}")
        since = len(self.runner.invocations)
        self.emulator.s3.put_object(Bucket=self.emulator.bucket, Key=key, Body=data)
        step.invocations.append(invocation_entry(self._wait(key, since)))
        step.audit = self._audit()
        step.clusters = [read_cluster(self.emulator.iam, sample.cluster)]
        step.ok = _all_outcomes(step, DetailType.SPEC_APPLIED, 1) and any(
            r.kind == "bastion" for r in step.clusters[0].roles
        )
        return step

    def edit(self) -> Step:
        sample = self._sample(EDITED_SAMPLE)
        step = Step(
            "edit",
            "Edit an additional policy",
            f"The node additionalPolicies of {sample.cluster} swap es:* for three SQS "
            "actions; only that inline policy is rewritten.",
            expected=f"{DetailType.SPEC_APPLIED} changing one policy",
        )
        step.actions.append(
            f"PUT {self._url(sample.cluster)}  ← {sample.label} with a new node policy"
        )
        step.invocations.append(invocation_entry(self._put(sample.cluster, edited_spec(sample))))
        step.audit = self._audit()
        step.clusters = [read_cluster(self.emulator.iam, sample.cluster)]
        step.ok = _all_outcomes(step, DetailType.SPEC_APPLIED, 1)
        return step

    def reject(self) -> Step:
        sample = self.invalid
        step = Step(
            "reject",
            "Upload an invalid spec",
            "Every error is reported at once, with its field path, and nothing is written.",
            expected=f"{DetailType.SPEC_REJECTED}, IAM identical before and after",
        )
        before = iam_snapshot(self.emulator.iam)
        step.actions.append(f"PUT {self._url(sample.cluster)}  ← {sample.label}")
        step.invocations.append(invocation_entry(self._put(sample.cluster, sample.data)))
        step.audit = self._audit()
        after = iam_snapshot(self.emulator.iam)
        rejected = [a for a in step.audit if a["detailType"] == DetailType.SPEC_REJECTED]
        step.errors = [dict(e) for a in rejected for e in a["detail"].get("errors", [])]
        roles = len(after)
        policies = sum(len(v["inline"]) + len(v["managed"]) for v in after.values())
        step.clusters = [read_cluster(self.emulator.iam, sample.cluster)]
        step.facts = {
            "iamUnchanged": before == after,
            "roles": roles,
            "policies": policies,
            "rolesForCluster": len(step.clusters[0].roles),
        }
        step.ok = (
            _all_outcomes(step, DetailType.SPEC_REJECTED, 1)
            and before == after
            and bool(step.errors)
        )
        return step

    def delete(self) -> Step:
        sample = self._sample(DELETED_SAMPLE)
        step = Step(
            "delete",
            "Delete a spec",
            f"Deleting {sample.cluster}'s spec deletes the roles, instance profiles and "
            "policies kops-iam made for it.",
            expected=f"{DetailType.CLUSTER_DELETED}, no role left for the cluster",
        )
        before = read_cluster(self.emulator.iam, sample.cluster)
        key = self.emulator.spec_key(sample.cluster)
        step.actions.append(f"DELETE {self._url(sample.cluster)}")
        since = len(self.runner.invocations)
        self.emulator.s3.delete_object(Bucket=self.emulator.bucket, Key=key)
        step.invocations.append(invocation_entry(self._wait(key, since)))
        step.audit = self._audit()
        step.clusters = [read_cluster(self.emulator.iam, sample.cluster)]
        step.facts = {"rolesBefore": [r.name for r in before.roles]}
        step.ok = _all_outcomes(step, DetailType.CLUSTER_DELETED, 1) and not step.clusters[0].roles
        return step

    def drift(self) -> Step:
        sample = self._sample(DRIFTED_SAMPLE)
        name = role_name("node", sample.cluster)
        step = Step(
            "drift",
            "Correct drift",
            f"Someone adds a statement to {name}'s policy by hand. The drift schedule "
            "(an EventBridge rule in the stack) invokes the function, which puts one check "
            "per cluster on the drift queue; the queue hands them back to the function in "
            "batches, which compares each spec with IAM and puts the policy back. Every "
            "spec in the bucket is checked: the invalid one uploaded earlier is still "
            "there, so it is reported again.",
            expected=f"{DetailType.DRIFT_CORRECTED} for {sample.cluster}",
        )
        iam = self.emulator.iam
        document = dict(
            _document(iam.get_role_policy(RoleName=name, PolicyName=name)["PolicyDocument"])
        )
        statements = document.get("Statement", [])
        document["Statement"] = [
            *([statements] if isinstance(statements, Mapping) else statements),
            HAND_MADE_STATEMENT,
        ]
        iam.put_role_policy(RoleName=name, PolicyName=name, PolicyDocument=json.dumps(document))
        actions = ", ".join(_as_list(HAND_MADE_STATEMENT["Action"]))
        step.actions.append(f"IAM PutRolePolicy {name}: + Allow {actions} on *  (by hand)")
        step.actions.append(
            "drift schedule → lambda_handler: one drift check per spec → drift queue"
        )
        step.actions.append("drift queue → lambda_handler: batches of drift checks")
        step.invocations.extend(invocation_entry(i) for i in self.runner.run_drift())
        step.audit = self._audit()
        step.clusters = [read_cluster(iam, sample.cluster)]
        drifted = [
            a
            for a in step.audit
            if a["detailType"] == DetailType.DRIFT_CORRECTED and a["cluster"] == sample.cluster
        ]
        after = _document(iam.get_role_policy(RoleName=name, PolicyName=name)["PolicyDocument"])
        step.facts = {
            "role": name,
            "handMadeStatementGone": all(
                s.get("Sid") != HAND_MADE_STATEMENT["Sid"]
                for s in (after.get("Statement") or [])
                if isinstance(s, Mapping)
            ),
        }
        step.ok = bool(drifted) and bool(step.facts["handMadeStatementGone"])
        return step


def _all_outcomes(step: Step, detail_type: str, count: int) -> bool:
    outcomes = [o for inv in step.invocations for o in inv["outcomes"]]
    return len(outcomes) == count and all(o["detailType"] == detail_type for o in outcomes)


def invocation_entry(invocation: Invocation) -> JSONDict:
    """An invocation as the report shows it."""
    return {
        "requestId": invocation.request_id,
        "trigger": _trigger(invocation.event),
        "attempt": invocation.attempt,
        "seconds": round(invocation.seconds, 3),
        "outcomes": [dict(o) for o in invocation.outcomes],
        "error": invocation.error,
    }


def _trigger(event: Mapping[str, Any]) -> str:
    records = event.get("Records") or []
    if records and all(r.get("eventSource") == "aws:sqs" for r in records):
        return f"SQS drift queue, {len(records)} check(s)"
    if "Records" in event:
        names = [str(r.get("eventName", "")) for r in event.get("Records", [])]
        return "S3 " + ", ".join(names)
    return f"{event.get('source', '?')} {event.get('detail-type', '?')}"


def audit_entry(event: Mapping[str, Any]) -> JSONDict:
    """An audit event from the tail queue, with its detail."""
    detail = event.get("detail") or {}
    return {
        "detailType": event.get("detail-type"),
        "source": event.get("source"),
        "time": event.get("time"),
        "cluster": detail.get("cluster"),
        "detail": detail,
    }
