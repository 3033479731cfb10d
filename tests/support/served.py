"""The served AWS world: the emulator (moto's server over HTTP) and its runner playing
Lambda, with the same helpers as the in-process world where they make sense.

Everything goes through real HTTP to moto's server (:mod:`kops_iam_tools.emulator`, built
on the same provisioning as :func:`support.world`): uploads and deletions through the S3
API, S3 notifications (or S3 events through EventBridge) to a queue, the runner handing
them to ``lambda_handler``, IAM writes, audit events put on the bus, matched by the rule
and copied to the tail queue, which the tests read.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from kops_iam_tools.emulator import Emulator, FunctionConfig, Invocation, Runner
from kops_iam_tools.world.names import ACCOUNT
from support import iam_state

#: Seconds to wait for the runner to hand an event to the handler.
WAIT = 20.0
#: An external policy the function may attach but IAM does not have (makes an apply fail).
MISSING_POLICY = f"arn:aws:iam::{ACCOUNT}:policy/e2e-not-there"
#: The existing bucket the EventBridge path watches (the stack's existing-bucket mode).
STATE_STORE = "kops-state-store-e2e"


@dataclass
class ServedWorld:
    """A started emulator and runner, with helpers that act and read through HTTP."""

    emulator: Emulator
    runner: Runner
    _audit: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def bucket(self) -> str:
        return self.emulator.bucket

    # -- acting (the S3 API, as a user) -----------------------------------------------

    def upload(self, cluster: str, body: bytes | str) -> tuple[dict[str, Any], Invocation]:
        """PUT the spec; wait for the runner to have handed its event to the handler."""
        key = self.emulator.spec_key(cluster)
        since = len(self.runner.invocations)
        data = body.encode() if isinstance(body, str) else body
        response = dict(self.emulator.s3.put_object(Bucket=self.bucket, Key=key, Body=data))
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
        return iam_state.cluster_roles(self.emulator.iam, cluster)

    def inline(self, role: str) -> dict[str, Any]:
        return iam_state.inline(self.emulator.iam, role)

    def snapshot(self) -> dict[str, Any]:
        """Every role with its policies, tags, boundary and instance profiles."""
        return iam_state.snapshot(self.emulator.iam)


def served_world(**emulator_options: Any) -> Iterator[ServedWorld]:
    """Start an emulator (options as :class:`Emulator`) and its runner; stop both after."""
    function = emulator_options.pop("function", FunctionConfig())
    with Emulator(function=function, **emulator_options) as emulator, Runner(emulator) as runner:
        yield ServedWorld(emulator, runner)
