"""AWS for the benchmarks: the test world (``tests/support``) and the function's runtime.

The benchmarks measure on the same world as the tests: moto in-process with the stack's
resources (:func:`support.world.world`, provisioned by :mod:`kops_iam_tools.world`), the
handler's runtime built by its own ``build_runtime`` from the function's environment on
the world's function session, whose every API call the world's wire counts per service
and operation (one per API call, retries inside it; each page of a paginator is a call).
The bench's own uploads, deletes and set-up go through the test's clients: not counted.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: What the benchmarks add to the function's environment (metrics kept apart, logs quiet).
BENCH_ENV: Mapping[str, str] = {
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "KopsIamBench",
    "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon here
    "POWERTOOLS_LOG_LEVEL": "ERROR",  # the table, not the function's logs, goes to stdout
}


def reconciler_available() -> bool:
    """Whether the reconciler (handler and reconciler modules) is there."""
    try:
        return all(
            importlib.util.find_spec(name) is not None
            for name in ("kops_iam.application.handler", "kops_iam.application.reconciler")
        )
    except ImportError:
        return False


def environment(
    allowed_managed_policies: tuple[str, ...] = (),
    *,
    allowed_actions: tuple[str, ...] = (),
    event_read: Literal["bulk", "per-role"] = "bulk",
    **extra: str,
) -> dict[str, str]:
    """The function's environment as the stack sets it, plus :data:`BENCH_ENV`."""
    from kops_iam_tools.world.function import FunctionConfig, function_environment

    config = FunctionConfig(
        allowed_managed_policies=allowed_managed_policies,
        allowed_actions=allowed_actions,
        event_read=event_read,
    )
    return {**function_environment(config, **extra), **BENCH_ENV}


def apply_env(environ: Mapping[str, str]) -> None:
    """Put the function's environment in this process, before anything imports the handler
    (Powertools reads it at import)."""
    os.environ.update(environ)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        os.environ.pop(name, None)


@dataclass
class BenchWorld:
    """The test world plus the handler's runtime, as a warm Lambda container holds it."""

    world: Any  # support.world.World
    runtime: Any  # kops_iam.application.handler.Runtime

    @property
    def calls(self) -> Any:
        """The function's API calls (``support.wire.CallLog``: ``take()``, ``paused()``)."""
        return self.world.calls

    @property
    def iam(self) -> Any:
        """The bench's own IAM client (drift by hand; not counted)."""
        return self.world.inspect_iam

    def create_policies(self, arns: list[str]) -> None:
        """Create the customer managed policies a spec names (boundary, externalPolicies)."""
        existing = self.iam.exceptions.EntityAlreadyExistsException
        for arn in arns:
            with contextlib.suppress(existing):
                self.world.managed_policy(arn.rsplit("/", 1)[-1])

    def put_spec(self, key: str, body: bytes | str) -> str | None:
        """Upload a spec object (not counted); return its version id."""
        version: str | None = self.world.put(key, body).get("VersionId")
        return version

    def delete_spec(self, key: str) -> None:
        """Delete a spec object (not counted)."""
        self.world.inspect_s3.delete_object(Bucket=self.world.bucket, Key=key)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        """Call the deployed entry point ``lambda_handler`` (Powertools decorators included).

        Metrics the decorators print (EMF) are swallowed so the table stays readable.
        """
        with contextlib.redirect_stdout(io.StringIO()):
            result: dict[str, Any] = self.world.entry(event, self.runtime)
        return result


@contextlib.contextmanager
def bench_world(
    allowed_managed_policies: tuple[str, ...] = (),
    *,
    allowed_actions: tuple[str, ...] = (),
    event_read: Literal["bulk", "per-role"] = "bulk",
) -> Iterator[BenchWorld]:
    """The test world with the function's runtime (``build_runtime`` on the world's
    function session, from the function's environment)."""
    environ = environment(
        allowed_managed_policies, allowed_actions=allowed_actions, event_read=event_read
    )
    apply_env(environ)
    from support.world import FUNCTION_SESSION, world

    from kops_iam.application import handler

    with world() as fresh:
        runtime = handler.build_runtime(
            os.environ, account_id=fresh.account, session=FUNCTION_SESSION
        )
        fresh.calls.clear()
        yield BenchWorld(fresh, runtime)
