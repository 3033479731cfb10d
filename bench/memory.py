"""Peak memory of the handler per event, in a process of its own (as a Lambda container).

The child process imports ``kops_iam.handler`` and calls ``lambda_handler`` for each event
it reads on stdin; AWS is the emulator (moto's server, :mod:`kops_iam_tools.emulator`) in
*this* process, reached over HTTP through ``AWS_ENDPOINT_URL``, so the child's memory is
the function's alone (boto3, Powertools, pydantic, PyYAML, kops_iam), as Lambda's "Max
Memory Used" would see it. Between events
this process uploads the next version of the spec. Each child reports its peak RSS
(``VmHWM``) after the import and after each event; a second kind of child also traces
Python allocations (:mod:`tracemalloc`) and reports each event's peak above its start.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

from bench import specs
from bench.aws import BENCH_ENV
from bench.machine import LAMBDA_RUNTIME_ENV, ROOT
from bench.report import Row, fmt
from bench.stats import summarize
from kops_iam_tools.emulator import Emulator, FunctionConfig
from kops_iam_tools.world.events import object_event, scheduled_event
from kops_iam_tools.world.provision import PLACEHOLDER_DOCUMENT

SECTION = "memory"

_CHILD = r"""
import json, resource, sys, time, tracemalloc
trace = sys.argv[1] == "trace"

def rss_mb():
    # VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

import kops_iam.application.handler as handler
out = sys.__stdout__
print(json.dumps({"step": "import", "maxrss_mb": rss_mb()}), file=out, flush=True)
from kops_iam_tools.world.function import LambdaContext  # after the import's figure
for line in sys.stdin:
    event = json.loads(line)
    if trace:
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    sys.stdout = sys.stderr  # Powertools metrics (EMF) are printed; keep them off the pipe
    try:
        result = handler.lambda_handler(event, LambdaContext(timeout_ms=900_000))
    finally:
        sys.stdout = out
    ms = (time.perf_counter() - start) * 1000
    peak = None
    if trace:
        peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
        tracemalloc.stop()
    kinds = sorted({str(o.get("detailType")) for o in result.get("outcomes", [])})
    print(json.dumps({"step": "event", "maxrss_mb": rss_mb(), "traced_peak_mb": peak,
                      "ms": ms, "outcomes": kinds}), file=out, flush=True)
"""


def _emulator(allowed: list[str]) -> Emulator:
    """The embedded AWS (moto's server on a free local port) with the stack's resources and
    the managed policies the spec names."""
    return Emulator(
        function=FunctionConfig(allowed_managed_policies=tuple(allowed)),
        managed_policies={arn.rsplit("/", 1)[-1]: PLACEHOLDER_DOCUMENT for arn in allowed},
    ).start()


def _put(emulator: Emulator, key: str, body: bytes | str) -> str | None:
    version: str | None = emulator.s3.put_object(Bucket=emulator.bucket, Key=key, Body=body).get(
        "VersionId"
    )
    return version


def _child(
    emulator: Emulator, trace: bool, cluster: str, previous: str | None
) -> list[dict[str, Any]]:
    """One handler process; its first event is ``previous``'s spec unchanged, when given.

    That cold "unchanged" event, against the same event later in the same process, gives
    the cost the first invocation pays for what the handler loads lazily.
    """
    text = specs.sample(specs.FULL)
    env = dict(os.environ)
    env.update(emulator.environment())
    env.update(BENCH_ENV)
    env.update(LAMBDA_RUNTIME_ENV)  # a fresh process, as a Lambda container is
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, "trace" if trace else "plain"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        cwd=ROOT,
    )
    assert child.stdin is not None and child.stdout is not None
    key = f"{cluster}/config"
    results = [json.loads(child.stdout.readline())]
    steps: list[tuple[str, dict[str, Any]]] = []
    if previous is not None:
        steps.append(("cold unchanged", object_event(f"{previous}/config")))
    version = _put(emulator, key, specs.renamed(text, cluster))
    steps.append(("first apply", object_event(key, version_id=version)))
    steps.append(("unchanged", object_event(key, version_id=version)))
    steps.append(("changed", {}))
    steps.append(("scheduled run", scheduled_event()))
    for step, event in steps:
        if step == "changed":
            version = _put(emulator, key, specs.one_policy_changed(text, cluster))
            event = object_event(key, version_id=version)
        child.stdin.write(json.dumps(event) + "\n")
        child.stdin.flush()
        line = child.stdout.readline()
        if not line:
            child.kill()
            raise RuntimeError(f"handler process died at {step!r}")
        results.append({"name": step, **json.loads(line)})
    child.stdin.close()
    child.wait(timeout=60)
    return results


def run(repeats: int, traced: bool = True) -> tuple[list[Row], dict[str, object]]:
    """Start the moto server, run ``repeats`` + 1 plain children and (``traced``) a traced one."""
    allowed = specs.managed_policy_arns(specs.sample(specs.FULL))
    emulator = _emulator(allowed)
    clusters = [f"mem-{i}.k8s.example.com" for i in range(repeats + 1)]
    try:
        plain = [
            _child(emulator, False, c, clusters[i - 1] if i else None)
            for i, c in enumerate(clusters)
        ]
        traced_run = _child(emulator, True, "mem-traced.k8s.example.com", None) if traced else []
    finally:
        emulator.stop()
    measured = plain[1:]  # every child that started with a cold "unchanged" event
    by_name = [{r.get("name", "import"): r for r in p} for p in measured]
    traced_by_name = {r.get("name", "import"): r for r in traced_run}
    rows = [
        Row(
            SECTION,
            "peak RSS after import kops_iam.handler",
            fmt(summarize([p["import"]["maxrss_mb"] for p in by_name]), "MB"),
            note="fresh process, Lambda-like environment; AWS is a moto server in another "
            "process, so this is the function's own memory (VmHWM)",
        )
    ]
    names = ("cold unchanged", "first apply", "unchanged", "changed", "scheduled run")
    for index, step in enumerate(names, start=1):
        rss = summarize([p[step]["maxrss_mb"] for p in by_name])
        peak = traced_by_name.get(step, {}).get("traced_peak_mb")
        last = index == len(names)
        rows.append(
            Row(
                SECTION,
                f"peak RSS after event {index}: {step}",
                fmt(rss, "MB"),
                f"+{peak:.1f} MB traced" if peak is not None else "",
                target="fits 512 MB (stack)" if last else "",
                status=("met" if rss.maximum < 512 else "NOT MET") if last else "info",
                note=f"{specs.FULL}; outcome {by_name[0][step]['outcomes']}; "
                f"{summarize([p[step]['ms'] for p in by_name]).median:.0f} ms over HTTP"
                + (
                    "; traced = tracemalloc peak of Python allocations during the event"
                    if index == 2
                    else ""
                ),
            )
        )
    overhead = summarize([p["cold unchanged"]["ms"] - p["unchanged"]["ms"] for p in by_name])
    rows.append(
        Row(
            "cold start",
            "first invocation's extra time (lazy loading)",
            fmt(overhead, "ms"),
            note="an unchanged-spec event as a fresh process's first event, minus the same "
            "kind of event later in that process (moto over HTTP): what the handler defers "
            "from import to the first event (Tracer, clients, pydantic, event models, domain core)",
        )
    )
    return rows, {"plain": plain, "traced": traced_run}
