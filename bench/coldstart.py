"""Cold start: wall time to import the handler module in a fresh interpreter.

Each round starts one fresh interpreter per variant, in alternating order, so drift of the
machine hits every variant alike: the handler module, a bare ``import boto3``, and a plain
reference handler (boto3 + PyYAML + pydantic + Powertools Logger/Metrics/Tracer). The child
times its own import with ``perf_counter`` (interpreter start-up excluded, as the Lambda
runtime's own start-up is not the function's), and the parent times the whole process. Ratios
are paired per round. One discarded warm-up round first, so compiled bytecode is on disk.

Bytecode: every child reads and writes it under one cache directory of the run's own
(``PYTHONPYCACHEPREFIX``), filled by the warm-up, whatever the caller's environment says.
Without that, ``PYTHONDONTWRITEBYTECODE=1`` in the environment (the development sessions set
it) had kops_iam compiled from source in every child while boto3, pydantic and Powertools
came from pip's bytecode: a cost charged to one side only, and absent from a run without the
variable. The deployed asset's bytecode: docs/adr/0118.

The first-event runs rotate with three others, each run once beside each of them: the plain
handler (the target's yardstick), the libraries' floor (the same first event with no kops-iam
code) and the plain handler with the collector paused as the handler pauses it in Lambda.
Ratios are paired per run, so load that changes during the benchmark hits every side alike
(docs/adr/0122).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from bench.machine import APPROVED_ACTIONS, ROOT, lambda_like_env
from bench.report import Row, Status, fmt, not_measured, verdict
from bench.stats import ratio, summarize

SECTION = "cold start"
HANDLER_MODULE = "kops_iam.application.handler"
TARGET_RATIO = 1.3
#: Import plus first-event work against a plain handler (issue 15, docs/adr/0113).
TARGET_COLD_RATIO = 1.5
#: The plain handler: boto3 and the three clients every handler of this kind makes.
PLAIN_BODY = """
import boto3
session = boto3.session.Session(region_name="us-east-1")
iam, s3, events = session.client("iam"), session.client("s3"), session.client("events")
"""

_CHILD = """
import json, sys, time
t0 = time.perf_counter()
{body}
t1 = time.perf_counter()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
print(json.dumps({{"import_s": t1 - t0,
                  "maxrss_kb": int(hwm[0].split()[1]) if hwm else 0,
                  "modules": len(sys.modules)}}))
"""

#: The libraries' floor: what any handler of this design must do for its first S3 event
#: before a line of kops-iam runs, with the libraries the design card names: boto3 and its
#: three clients (the plain handler), Powertools Logger and Metrics, the Powertools parser
#: validating the EventBridge event with pydantic, and PyYAML's C loader reading the spec.
#: What the first event costs above this is kops-iam's own code (docs/adr/0122).
FLOOR_BODY = """
import gc
gc.disable()  # as the handler does in Lambda (docs/adr/0122)
from pathlib import Path
from typing import Any
spec = Path("events/specs/bastion-all-roles.yaml").read_bytes()
import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
logger = Logger(service="floor")
metrics = Metrics(namespace="floor", service="floor")
session = boto3.session.Session(region_name="us-east-1")
iam, s3, events = session.client("iam"), session.client("s3"), session.client("events")
from aws_lambda_powertools.utilities.parser import parse
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
class ObjectCreated(EventBridgeModel):
    detail: dict[str, Any]
parse(event={"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
             "account": "123456789012", "time": "2024-01-01T00:00:00Z",
             "region": "us-east-1", "resources": [],
             "detail": {"bucket": {"name": "kops-iam-specs"},
                        "object": {"key": "staging.k8s.example.com/config"}}},
      model=ObjectCreated)
import yaml
document = yaml.load(spec, Loader=yaml.CSafeLoader)
assert document["kind"] == "Cluster"
"""

#: The plain handler with the collector paused as kops-iam's handler pauses it: the like-for-like
#: yardstick, showing how much of the difference that alone makes (docs/adr/0122).
PLAIN_PAUSED_BODY = "import gc\ngc.disable()\n" + PLAIN_BODY

REFERENCE_BODY = """
import boto3, yaml, pydantic
from aws_lambda_powertools import Logger, Metrics, Tracer
logger, metrics, tracer = Logger(), Metrics(), Tracer()
"""


#: A fresh container's cold path beyond the import: what the first event makes the handler
#: load (runtime with clients and Tracer, event models, the domain core with its models,
#: parser and action catalogue), each step timed; no AWS call is made.
_FIRST_EVENT = """
import json, os, sys, time
from pathlib import Path
spec = Path("events/specs/bastion-all-roles.yaml").read_bytes()
event = {"version": "0", "id": "1", "detail-type": "Object Created", "source": "aws.s3",
         "account": "123456789012", "time": "2024-01-01T00:00:00Z", "region": "us-east-1",
         "resources": [], "detail": {"bucket": {"name": "kops-iam-specs"},
                                     "object": {"key": "staging.k8s.example.com/config"}}}
marks = [time.perf_counter()]
import kops_iam.application.handler as handler
marks.append(time.perf_counter())
runtime = handler.build_runtime(os.environ, account_id="123456789012")
marks.append(time.perf_counter())
import pydantic
class _First(pydantic.BaseModel):
    a: int
marks.append(time.perf_counter())
import aws_lambda_powertools.utilities.parser
marks.append(time.perf_counter())
from kops_iam.aws.events import parse_event
parse_event(event)
marks.append(time.perf_counter())
runtime.reconciler.plan_document(spec, cluster="staging.k8s.example.com")
marks.append(time.perf_counter())
import kops_iam.aws.iam_snapshot
marks.append(time.perf_counter())
runtime.reconciler.plan_document(spec, cluster="staging.k8s.example.com")
marks.append(time.perf_counter())
names = ["import", "runtime", "pydantic", "parser", "event models", "first plan",
         "bulk read", "warm plan"]
print(json.dumps({n: b - a for n, a, b in zip(names, marks, marks[1:])}))
"""
FIRST_EVENT_STEPS = {
    "import": "import kops_iam.handler",
    "runtime": "build_runtime: settings, boto3 clients (iam, s3, events); no X-Ray SDK "
    "(docs/adr/0113)",
    "pydantic": "first pydantic model in the process: pydantic's model machinery loads",
    "parser": "import aws_lambda_powertools.utilities.parser (events.py uses it)",
    "event models": "first events.parse_event: pydantic event models built",
    "first plan": "first plan_document: core, spec models, YAML parser, statements, catalogue",
    "bulk read": "the module an event's bulk IAM read needs (docs/adr/0121; its AWS calls "
    "are not made here)",
    "warm plan": "the same plan again (warm)",
}


@dataclass(frozen=True)
class Variant:
    label: str
    body: str


def handler_available() -> bool:
    """Whether ``kops_iam.handler`` exists (the reconciler has landed)."""
    try:
        return importlib.util.find_spec(HANDLER_MODULE) is not None
    except ImportError:
        return False


def _env(pycache: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The Lambda-like environment, bytecode cached under ``pycache`` (module docstring)."""
    env = lambda_like_env(extra)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


def _run_child(body: str, pycache: str) -> tuple[dict[str, float], float]:
    return _run_code(_CHILD.format(body=body), _env(pycache))


def _run_code(code: str, env: dict[str, str]) -> tuple[dict[str, float], float]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"child failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1]), wall


def measure(
    variants: list[Variant], rounds: int, pycache: str
) -> dict[str, dict[str, list[float]]]:
    """Import time, process wall time and peak RSS of each variant over ``rounds`` rounds."""
    results: dict[str, dict[str, list[float]]] = {
        v.label: {"import_s": [], "wall_s": [], "maxrss_mb": [], "modules": []} for v in variants
    }
    for v in variants:  # warm-up: bytecode compiled, files in the page cache
        _run_child(v.body, pycache)
    for r in range(rounds):
        order = variants if r % 2 == 0 else list(reversed(variants))
        for v in order:
            child, wall = _run_child(v.body, pycache)
            results[v.label]["import_s"].append(child["import_s"])
            results[v.label]["wall_s"].append(wall)
            results[v.label]["maxrss_mb"].append(child["maxrss_kb"] / 1024)
            results[v.label]["modules"].append(child["modules"])
    return results


def run(rounds: int, first_event_runs: int = 15) -> tuple[list[Row], dict[str, object]]:
    """Measure and return the table rows and the raw figures."""
    with tempfile.TemporaryDirectory(prefix="kops-iam-pycache-") as pycache:
        return _run(rounds, first_event_runs, pycache)


@dataclass(frozen=True)
class FirstEventRuns:
    """The first-event runs' steps, and the plain-handler, floor and paused plain-handler
    runs made beside them, one of each per first-event run (ms)."""

    steps: dict[str, list[float]]
    plain: list[float]
    floor: list[float]
    plain_paused: list[float]

    @property
    def cold(self) -> list[float]:
        """Each run's import plus first-event work: its steps but the warm plan."""
        return [
            sum(v)
            for v in zip(
                *(self.steps[n] for n in FIRST_EVENT_STEPS if n != "warm plan"), strict=True
            )
        ]


def _first_event(runs: int, pycache: str) -> FirstEventRuns:
    """Each step of the first-event script (ms), a plain handler's import (ms), the
    libraries' floor (ms) and the plain handler with the collector paused (ms), run side by
    side in a rotating order (one warm-up of each first), so that load which changes during
    the section hits all of them alike."""
    allowed = "arn:aws:iam::123456789012:policy/staging-node-extras"
    # The sample spec's bastion asks for ssm:StartSession: approved, as the demo approves
    # it (an escalation since issue 10).
    env = _env(
        pycache,
        {
            "KOPS_IAM_ALLOWED_MANAGED_POLICIES": allowed,
            "KOPS_IAM_ALLOWED_ACTIONS": ",".join(APPROVED_ACTIONS),
        },
    )
    steps: dict[str, list[float]] = {name: [] for name in FIRST_EVENT_STEPS}
    others = {"plain": PLAIN_BODY, "floor": FLOOR_BODY, "plain paused": PLAIN_PAUSED_BODY}
    measured: dict[str, list[float]] = {kind: [] for kind in others}
    _run_code(_FIRST_EVENT, env)
    for body in others.values():
        _run_child(body, pycache)
    kinds = ("first", *others)
    for r in range(runs):
        shift = r % len(kinds)
        for which in kinds[shift:] + kinds[:shift]:
            if which in others:
                child_ms = _run_child(others[which], pycache)[0]["import_s"] * 1000
                measured[which].append(child_ms)
                continue
            child, _wall = _run_code(_FIRST_EVENT, env)
            for name in FIRST_EVENT_STEPS:
                steps[name].append(child[name] * 1000)
    return FirstEventRuns(steps, measured["plain"], measured["floor"], measured["plain paused"])


def first_event_rows(runs: FirstEventRuns, boto3_ms: float) -> list[Row]:
    """The fresh-container rows: each step, the plain handler, the target row (import plus
    first-event work against the plain handler, paired per run), and its split into the
    libraries' floor and kops-iam's own share (docs/adr/0122)."""
    rows = [
        Row(SECTION, f"fresh container: {name}", fmt(summarize(runs.steps[name]), "ms"), note=what)
        for name, what in FIRST_EVENT_STEPS.items()
    ]
    cold = runs.cold
    total = summarize(cold)
    paired = ratio(cold, runs.plain)
    plain_ms = summarize(runs.plain)
    floor_paired = ratio(runs.floor, runs.plain)
    own = [c - f for c, f in zip(cold, runs.floor, strict=True)]
    own_paired = summarize([o / p for o, p in zip(own, runs.plain, strict=True)])
    rows.append(
        Row(
            SECTION,
            "fresh container: plain handler, paired with those runs",
            fmt(plain_ms, "ms"),
            note="import boto3 + iam, s3 and events clients, run beside each first-event run",
        )
    )
    rows.append(
        Row(
            SECTION,
            "fresh container: import + first-event work vs a plain handler",
            fmt(total, "ms"),
            fmt(paired, "x", 2),
            f"<= {TARGET_COLD_RATIO}x plain",
            verdict(paired.median <= TARGET_COLD_RATIO),
            note=f"plain handler (boto3 + iam/s3/events clients) {plain_ms.median:.0f} ms; "
            "paired per run, in fresh interpreters, bytecode cached; docs/adr/0113, 0118",
        )
    )
    rows.append(
        Row(
            SECTION,
            "fresh container: the libraries' floor vs a plain handler",
            fmt(summarize(runs.floor), "ms"),
            fmt(floor_paired, "x", 2),
            note="no kops-iam code: the plain handler plus Powertools Logger/Metrics, the "
            "parser validating the EventBridge event (pydantic) and PyYAML's C loader on the "
            "spec; paired per run; docs/adr/0122",
        )
    )
    rows.append(
        Row(
            SECTION,
            "fresh container: kops-iam's own share (first event - floor) vs a plain handler",
            fmt(summarize(own), "ms"),
            fmt(own_paired, "x", 2),
            note="what kops-iam's own modules, models, settings and first plan add above the "
            "libraries' floor, per run; docs/adr/0122",
        )
    )
    rows.append(
        Row(
            SECTION,
            "fresh container: like for like, vs a plain handler that also pauses the collector",
            fmt(summarize(runs.plain_paused), "ms"),
            fmt(ratio(cold, runs.plain_paused), "x", 2),
            note="the value is that plain handler's time; the ratio, the first event's against "
            "it, per run: what kops-iam costs beyond the collector's pause; docs/adr/0122",
        )
    )
    rows.append(
        Row(
            SECTION,
            "fresh container: import + everything the first event loads",
            fmt(total, "ms"),
            f"{total.median / boto3_ms:.2f}x boto3 import",
            note="the sum of the steps above but the warm plan, on this machine; Lambda "
            "runs the import in its init phase and the rest in the first invocation; "
            "CPU is allotted in proportion to the memory size",
        )
    )
    return rows


def _run(rounds: int, first_event_runs: int, pycache: str) -> tuple[list[Row], dict[str, object]]:
    have_handler = handler_available()
    subject = HANDLER_MODULE if have_handler else "kops_iam.domain.pipeline"
    variants = [
        Variant("import boto3", "import boto3"),
        Variant(f"import {subject}", f"import {subject}"),
        Variant("reference handler", REFERENCE_BODY),
        Variant("plain handler", PLAIN_BODY),
    ]
    raw = measure(variants, rounds, pycache)
    base = raw["import boto3"]
    rows: list[Row] = []
    for v in variants:
        data = raw[v.label]
        imp = summarize([s * 1000 for s in data["import_s"]])
        rel = ratio(data["import_s"], base["import_s"])
        wall = summarize([s * 1000 for s in data["wall_s"]])
        wall_rel = ratio(data["wall_s"], base["wall_s"])
        is_subject = v.label == f"import {subject}"
        status: Status = "info"
        target = ""
        note = ""
        if is_subject and have_handler:
            target = f"<= {TARGET_RATIO}x boto3"
            status = verdict(rel.median <= TARGET_RATIO)
        elif is_subject:
            note = (
                "kops_iam.handler not committed yet: the domain core (parse/validate/plan) "
                "measured instead; the handler imports it lazily or adds to it."
            )
        elif v.label == "reference handler":
            note = "boto3 + PyYAML + pydantic + Powertools Logger/Metrics/Tracer (issue: 1.6x)"
        elif v.label == "plain handler":
            note = "import boto3 + iam, s3 and events clients: the cold path's yardstick"
        rows.append(
            Row(
                SECTION,
                f"{v.label}: import time",
                fmt(imp, "ms"),
                fmt(rel, "x", 2),
                target,
                status,
                note,
            )
        )
        rows.append(
            Row(
                SECTION,
                f"{v.label}: process wall",
                fmt(wall, "ms"),
                fmt(wall_rel, "x", 2),
                note=f"interpreter start + import + exit; {int(data['modules'][0])} modules, "
                f"peak RSS {summarize(data['maxrss_mb']).median:.1f} MB",
            )
        )
    if have_handler:
        runs = _first_event(first_event_runs, pycache)
        raw["first event"] = runs.steps
        raw["plain handler, paired with the first-event runs"] = {"import_ms": runs.plain}
        raw["libraries' floor, paired with the first-event runs"] = {"import_ms": runs.floor}
        raw["plain handler, collector paused, paired with the first-event runs"] = {
            "import_ms": runs.plain_paused
        }
        boto3_ms = summarize([s * 1000 for s in base["import_s"]]).median
        rows.extend(first_event_rows(runs, boto3_ms))
    if not have_handler:
        rows.append(
            not_measured(
                SECTION,
                f"import {HANDLER_MODULE}",
                "module not committed yet (issue 3)",
                f"<= {TARGET_RATIO}x boto3",
            )
        )
    return rows, {"subject": subject, "rounds": rounds, "raw": raw}
