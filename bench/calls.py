"""Handler latency and AWS calls per reconcile, against moto in-process.

Through the deployed entry point (``lambda_handler`` with its Powertools decorators) and an
S3 ``Object Created``/``Object Deleted`` event as EventBridge delivers it, for two sample
specs. Calls are counted by the test world's wire (see :mod:`bench.aws`):

* first apply: the spec's roles do not exist yet;
* unchanged: the same event again (target: zero IAM writes, at most 4 IAM reads per role);
* one policy changed: one action added to the node's additional policy;
* deletion: the object deleted, the roles removed.

Both ways an event may read IAM are measured (``kops-iam:eventRead``, docs/adr/0121):
``bulk`` (the default: one ``GetAccountAuthorizationDetails`` page, as moto's one-page
account answers it) and ``per-role`` (what larger accounts, and failed bulk reads, fall
back to); the target is the default's.

Latency is timed per event: unchanged (same event again) and changed (a new version of
the spec alternating between two contents, uploaded before each timed event).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from support.wire import Calls

from bench import specs
from bench.aws import BenchWorld, bench_world
from bench.machine import APPROVED_ACTIONS
from bench.report import Row, Status, fmt, verdict
from bench.stats import summarize
from kops_iam_tools.world.events import object_event

SECTION = "reconcile calls"
LATENCY = "handler latency"
#: Issue 15: a per-event reconcile in at most 4 IAM reads per role (the default read).
MAX_READS_PER_ROLE = 4
EVENT_READS: tuple[Literal["bulk", "per-role"], ...] = ("bulk", "per-role")
SCENARIOS = ("first apply", "unchanged", "one policy changed", "deletion")


def _outcome(result: dict[str, Any]) -> str:
    outcomes = result.get("outcomes", [])
    return ", ".join(str(o.get("detailType")) for o in outcomes) or "none"


def scenario_calls(world: BenchWorld, text: str, cluster: str) -> dict[str, tuple[Calls, str, int]]:
    """Run the four scenarios on a fresh cluster; return calls, outcome and roles planned."""
    key = f"{cluster}/config"
    roles = len(world.runtime.reconciler.plan_document(specs.renamed(text, cluster)).roles)
    out: dict[str, tuple[Calls, str, int]] = {}
    world.calls.take()
    version = world.put_spec(key, specs.renamed(text, cluster))
    result = world.invoke(object_event(key, version_id=version))
    out["first apply"] = (world.calls.take(), _outcome(result), roles)
    result = world.invoke(object_event(key, version_id=version))
    out["unchanged"] = (world.calls.take(), _outcome(result), roles)
    version = world.put_spec(key, specs.one_policy_changed(text, cluster))
    result = world.invoke(object_event(key, version_id=version))
    out["one policy changed"] = (world.calls.take(), _outcome(result), roles)
    world.delete_spec(key)
    result = world.invoke(object_event(key, deleted=True))
    out["deletion"] = (world.calls.take(), _outcome(result), roles)
    return out


def latency(world: BenchWorld, text: str, cluster: str, repeats: int) -> dict[str, list[float]]:
    """Handler wall time (ms) per event: unchanged and changed spec."""
    key = f"{cluster}/config"
    versions = [specs.renamed(text, cluster), specs.one_policy_changed(text, cluster)]
    version = world.put_spec(key, versions[0])
    world.invoke(object_event(key, version_id=version))  # first apply, not timed
    timings: dict[str, list[float]] = {"unchanged": [], "changed": []}
    calls: dict[str, list[int]] = {"unchanged": [], "changed": []}
    event = object_event(key, version_id=version)
    for i in range(repeats):
        world.calls.take()
        start = time.perf_counter()
        world.invoke(event)
        timings["unchanged"].append((time.perf_counter() - start) * 1000)
        calls["unchanged"].append(world.calls.take().total)
        version = world.put_spec(key, versions[(i + 1) % 2])
        event = object_event(key, version_id=version)
        world.calls.take()
        start = time.perf_counter()
        world.invoke(event)
        timings["changed"].append((time.perf_counter() - start) * 1000)
        calls["changed"].append(world.calls.take().total)
    return {**timings, **{f"{k} calls": [float(c) for c in v] for k, v in calls.items()}}


def run(repeats: int, latency_repeats: int) -> tuple[list[Row], dict[str, object]]:
    """Measure calls per scenario (``repeats`` fresh clusters per spec) and the latency."""
    rows: list[Row] = []
    raw: dict[str, object] = {}
    allowed = tuple(
        arn
        for name in (specs.SMALL, specs.FULL)
        for arn in specs.managed_policy_arns(specs.sample(name))
    )
    for read in EVENT_READS:
        # bastion-all-roles.yaml's bastion asks for ssm:StartSession: approved, as an
        # operator who runs it approves it (docs/adr/0062)
        with bench_world(allowed, allowed_actions=APPROVED_ACTIONS, event_read=read) as world:
            for name in (specs.SMALL, specs.FULL):
                text = specs.sample(name)
                world.create_policies(specs.managed_policy_arns(text))
                runs = [
                    scenario_calls(world, text, f"calls-{i}.{specs.cluster_name(text)}")
                    for i in range(repeats)
                ]
                raw[f"{name} eventRead={read}"] = {
                    s: [dict(r[s][0].counts) for r in runs] for s in SCENARIOS
                }
                for scenario in SCENARIOS:
                    rows.append(_calls_row(name, scenario, [r[scenario] for r in runs], read))
            if read == EVENT_READS[0]:  # the default's latency
                text = specs.sample(specs.FULL)
                name = f"latency.{specs.cluster_name(text)}"
                timings = latency(world, text, name, latency_repeats)
                raw["latency"] = timings
    for kind in ("unchanged", "changed"):
        ms = summarize(timings[kind])
        calls = summarize(timings[f"{kind} calls"])
        rows.append(
            Row(
                LATENCY,
                f"{kind} spec, one event ({specs.FULL})",
                fmt(ms, "ms"),
                f"{ms.median / calls.median:.1f} ms/call",
                note=f"lambda_handler on moto in-process, warm container; {calls.median:.0f} AWS "
                "calls per event (moto answers each in a few ms; real AWS: tens of ms)",
            )
        )
    return rows, raw


def _calls_row(
    name: str, scenario: str, runs: list[tuple[Calls, str, int]], read: str = "bulk"
) -> Row:
    calls = [c for c, _, _ in runs]
    roles = runs[0][2]
    outcome = runs[0][1]
    reads = summarize([c.iam_reads for c in calls])
    writes = summarize([c.iam_writes for c in calls])
    same = len({tuple(sorted(c.counts.items())) for c in calls}) == 1
    first = calls[0]
    value = (
        f"IAM {reads.median:.0f} reads + {writes.median:.0f} writes, "
        f"S3 {first.s3}, EventBridge {first.events}"
    )
    per_role = reads.median / roles
    status: Status
    target, status = "", "info"
    if scenario == "unchanged" and read == EVENT_READS[0]:
        target = f"0 IAM writes; reads fixed, <= {MAX_READS_PER_ROLE}/role"
        ok = writes.maximum == 0 and same and per_role <= MAX_READS_PER_ROLE
        status = verdict(ok)
    elif scenario == "unchanged":
        target = "0 IAM writes; reads fixed (the fallback: no read target)"
        status = verdict(writes.maximum == 0 and same)
    spread = "identical in every run" if same else "VARIES between runs"
    return Row(
        SECTION,
        f"{scenario} ({name}, {roles} roles, eventRead={read})",
        value,
        f"{per_role:.1f} reads/role",
        target,
        status,
        note=f"outcome: {outcome}; n={len(calls)}, {spread}. IAM: {first.describe('iam')}",
    )
