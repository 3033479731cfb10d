"""The end-to-end world: the embedded AWS over HTTP, its runner, and what tests read back.

Everything goes through real HTTP to moto's server (``kops_iam_tools.emulator``): uploads and
deletions through the S3 API, S3 notifications (or S3 events through EventBridge) to a
queue, the local runner handing them to ``kops_iam.application.handler.lambda_handler``, IAM writes,
audit events put on the bus, matched by the rule and copied to the tail queue, which the
tests read. Fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from spec_builders import cluster_json

from kops_iam_tools.emulator import Emulator, FunctionConfig, Invocation, Runner

#: moto's account: every ARN the emulator hands out is in it.
ACCOUNT = "123456789012"
WAIT = 20.0
#: An external policy the function may attach but IAM does not have (makes an apply fail).
MISSING_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/e2e-not-there"
#: The existing bucket the EventBridge path watches (the stack's existing-bucket mode).
STATE_STORE = "kops-state-store-e2e"


def spec(cluster: str, *, node_policy: list[dict[str, Any]] | None = None, **extra: Any) -> bytes:
    """A valid v1alpha2 spec for ``cluster`` (JSON, which is YAML too)."""
    if node_policy is not None:
        extra["additionalPolicies"] = {"node": json.dumps(node_policy)}
    return cluster_json(cluster, **extra).encode()


def allow(*actions: str, resource: str = "*") -> dict[str, Any]:
    return {"Effect": "Allow", "Action": list(actions), "Resource": resource}


@dataclass
class World:
    """A started emulator and runner, with helpers that act and read through HTTP."""

    emulator: Emulator
    runner: Runner
    _audit: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def bucket(self) -> str:
        return self.emulator.bucket

    # -- acting (the S3 API, as a user) -----------------------------------------------

    def upload(self, cluster: str, body: bytes) -> tuple[dict[str, Any], Invocation]:
        """PUT the spec; wait for the runner to have handed its event to the handler."""
        key = self.emulator.spec_key(cluster)
        since = len(self.runner.invocations)
        response = dict(self.emulator.s3.put_object(Bucket=self.bucket, Key=key, Body=body))
        return response, self.runner.wait_for_key(key, WAIT, since=since)

    def delete(self, cluster: str) -> Invocation:
        """DELETE the spec (a delete marker: the bucket is versioned)."""
        key = self.emulator.spec_key(cluster)
        since = len(self.runner.invocations)
        self.emulator.s3.delete_object(Bucket=self.bucket, Key=key)
        return self.runner.wait_for_key(key, WAIT, since=since)

    # -- reading (the tail queue, IAM) ------------------------------------------------

    def audit(self, cluster: str) -> list[dict[str, Any]]:
        """Audit events about ``cluster`` received on the tail queue, oldest first (once)."""
        for event in self.emulator.audit_events():
            self._audit[str(event.get("detail", {}).get("cluster"))].append(event)
        return self._audit.pop(cluster, [])

    def roles(self, cluster: str) -> set[str]:
        return {
            r["RoleName"]
            for r in self.emulator.iam.list_roles()["Roles"]
            if r["RoleName"].endswith(f".{cluster}")
        }

    def inline(self, role: str) -> dict[str, Any]:
        iam = self.emulator.iam
        return {
            name: iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
            for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
        }

    def snapshot(self) -> dict[str, Any]:
        """Every role with its policies, tags, boundary and instance profiles."""
        details = self.emulator.iam.get_account_authorization_details(Filter=["Role"])
        return {r["RoleName"]: r for r in details["RoleDetailList"]}


def make_world(**emulator_options: Any) -> Iterator[World]:
    """Start an emulator (options as :class:`Emulator`) and its runner; stop both after."""
    function = emulator_options.pop("function", FunctionConfig())
    with Emulator(function=function, **emulator_options) as emulator, Runner(emulator) as runner:
        yield World(emulator, runner)
