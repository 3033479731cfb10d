"""``kops-iam demo`` and ``kops-iam local``: the whole flow on the embedded AWS.

``demo`` starts the emulator (:mod:`kops_iam_tools.emulator`), runs the scenario
(:mod:`kops_iam_tools.demo`), prints each step as it ends (:mod:`kops_iam_tools.render`) and stops
everything. ``--json`` prints one JSON document instead, at the end. Exit 0 when every step
did what it should, 1 when one did not (or the emulator could not start).

``local`` starts the same emulator and runner and stays up: it prints the endpoint and
commands to try, a ``ready`` line, then one line per event handled (cluster, outcome,
summary, errors or diff). ``--json`` prints JSON lines instead (``ready``, ``invocation``,
``stopped``). Ctrl-C (SIGINT) or SIGTERM stops it cleanly with exit status 0.

Only argparse and the standard library load at start-up; the rest loads in :func:`run`.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

from kops_iam.application.settings import Defaults
from kops_iam_tools.commands.offline import add_allow_action_argument

if TYPE_CHECKING:  # pragma: no cover - typing only
    from kops_iam_tools.demo import Step
    from kops_iam_tools.emulator import Emulator, Invocation
    from kops_iam_tools.render import Style

#: Where the sample specs live in a checkout (relative to the working directory, then to
#: this file: functions/kops_iam/commands/local.py -> the repository root).
SAMPLES_RELATIVE: Final = Path("events") / "specs"


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    """Arguments of ``demo`` or ``local``."""
    parser.add_argument(
        "--port",
        type=_port,
        default=0,
        help="TCP port on 127.0.0.1 for the embedded AWS (default: a free one)",
    )
    parser.add_argument(
        "--delivery",
        choices=("notification", "eventbridge"),
        default="notification",
        help="how S3 events reach the function: bucket notifications (the stack's own bucket, "
        "default) or EventBridge (the stack's existing-bucket mode)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="machine-readable output: one JSON document (demo) or JSON lines (local)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour the output (auto: only on a terminal, and not when NO_COLOR is set)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="also print the function's own (Powertools JSON) logs, on stderr",
    )
    if name == "demo":
        parser.add_argument(
            "--specs",
            type=Path,
            metavar="DIR",
            help="directory of the sample specs (default: events/specs of this checkout)",
        )
        return
    parser.add_argument("--region", default="us-east-1", help="region of the emulated AWS")
    parser.add_argument(
        "--mode",
        choices=("apply", "plan"),
        default="apply",
        help="the function's mode: apply writes IAM, plan only audits the diff",
    )
    parser.add_argument(
        "--permissions-boundary",
        metavar="ARN",
        help="operator boundary the function enforces on every role",
    )
    add_allow_action_argument(parser)
    parser.add_argument(
        "--managed-policy",
        action="append",
        default=[],
        metavar="NAME",
        help="create customer managed policy NAME in the emulator and allow it in "
        "externalPolicies (e.g. kops-boundary, staging-node-extras for "
        "events/specs/bastion-all-roles.yaml)",
    )
    parser.add_argument(
        "--retain-on-delete", action="store_true", help="keep a cluster's roles when its spec goes"
    )
    parser.add_argument(
        "--adopt-existing-roles",
        action="store_true",
        help="take over same-named roles kops-iam did not create",
    )
    parser.add_argument(
        "--drift-every",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="run the drift schedule every SECONDS (default: never)",
    )


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0..65535, not {value}")
    return value


def run(args: argparse.Namespace) -> int:
    """Run ``demo`` or ``local``; return the exit code."""
    from kops_iam_tools.demo import DemoError
    from kops_iam_tools.emulator import EmulatorError

    try:
        if args.command == "demo":
            return _demo(args)
        return _local(args)
    except (EmulatorError, DemoError) as exc:
        print(f"kops-iam {args.command}: {exc}", file=sys.stderr)
        return 1


# --------------------------------------------------------------------------- shared


def samples_directory(explicit: Path | None = None) -> Path:
    """The sample specs: ``explicit``, else ./events/specs, else the checkout's."""
    if explicit is not None:
        return explicit
    here = Path.cwd() / SAMPLES_RELATIVE
    if here.is_dir():
        return here
    return Path(__file__).resolve().parents[3] / SAMPLES_RELATIVE


def _function_logs(args: argparse.Namespace) -> None:
    import logging

    from kops_iam_tools.emulator import route_function_output

    route_function_output(sys.stderr if args.verbose else None, logging.INFO)


def _style(args: argparse.Namespace, out: IO[str]) -> Style:
    from kops_iam_tools.render import Style, wants_colour

    return Style(wants_colour(out, args.color))


# --------------------------------------------------------------------------- demo


def _demo(args: argparse.Namespace) -> int:
    from kops_iam import __version__
    from kops_iam_tools.demo import (
        INVALID_SAMPLE,
        SAMPLES,
        STEPS,
        Scenario,
        emulator_for,
        load_sample,
    )
    from kops_iam_tools.emulator import Runner
    from kops_iam_tools.render import intro_lines, outro_lines, step_lines, terminal_width

    started = time.perf_counter()
    out = sys.stdout
    style = _style(args, out)
    width = terminal_width(out)
    directory = samples_directory(args.specs)
    samples = [load_sample(directory, name) for name in SAMPLES]
    invalid = load_sample(directory, INVALID_SAMPLE)
    _function_logs(args)
    emulator = emulator_for([*samples, invalid], port=args.port, delivery=args.delivery)

    def show(step: Step) -> None:
        if not args.json:
            number = len(scenario.steps)
            _print(out, step_lines(step, number, len(STEPS), width, style))

    with emulator:
        if not args.json:
            _print(
                out,
                intro_lines(
                    emulator.endpoint_url,
                    emulator.bucket,
                    emulator.bus_name,
                    Defaults.AUDIT_TAIL_QUEUE,
                    emulator.delivery,
                    width,
                    style,
                ),
            )
        with Runner(emulator) as runner:
            scenario = Scenario(emulator, runner, samples, invalid, on_step=show)
            scenario.run()
    seconds = time.perf_counter() - started
    if args.json:
        document = {
            "kopsIam": __version__,
            "ok": scenario.ok,
            "seconds": round(seconds, 3),
            "endpoint": emulator.endpoint_url,
            "delivery": emulator.delivery,
            "bucket": emulator.bucket,
            "auditBus": emulator.bus_name,
            "auditTailQueue": Defaults.AUDIT_TAIL_QUEUE,
            "steps": [s.to_dict() for s in scenario.steps],
        }
        json.dump(document, out, indent=2, default=str)
        out.write("\n")
    else:
        _print(out, outro_lines(scenario.steps, seconds, scenario.ok, width, style))
    return 0 if scenario.ok else 1


def _print(out: IO[str], lines: list[str]) -> None:
    out.write("\n".join(lines) + "\n")
    out.flush()


# --------------------------------------------------------------------------- local


class _Printer:
    """Prints what ``local`` sees, one event at a time (called from the runner's thread)."""

    def __init__(self, out: IO[str], style: Style, as_json: bool, width: int) -> None:
        self.out = out
        self.style = style
        self.as_json = as_json
        self.width = width
        self.emulator: Emulator | None = None
        self._lock = threading.Lock()

    def lines(self, lines: list[str]) -> None:
        with self._lock:
            _print(self.out, lines)

    def record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.out.write(json.dumps(record, default=str) + "\n")
            self.out.flush()

    def invocation(self, invocation: Invocation) -> None:
        from kops_iam_tools.demo import audit_entry, invocation_entry

        audit = [audit_entry(e) for e in self.emulator.console_events()] if self.emulator else []
        if self.as_json:
            self.record(
                {
                    "event": "invocation",
                    "time": _now(),
                    **invocation_entry(invocation),
                    "audit": audit,
                }
            )
            return
        self.lines(self._text(invocation, audit))

    def _text(self, invocation: Invocation, audit: list[dict[str, Any]]) -> list[str]:
        from kops_iam_tools.demo import _trigger
        from kops_iam_tools.emulator import DELIVERY_ATTEMPTS
        from kops_iam_tools.render import change_lines, summary_text, wrap_text

        style = self.style
        stamp = style(_now(), "dim")
        via = style(f"← {_trigger(invocation.event)}, {invocation.seconds:.2f} s", "dim")
        lines: list[str] = []
        pad = " " * 10
        for event in audit:
            detail = event["detail"]
            detail_type = str(event["detailType"])
            lines.append(
                f"{stamp}  {style.outcome(detail_type)}  {style(str(event['cluster']), 'bold')}  "
                f"{summary_text(detail)}  {via}"
            )
            for error in detail.get("errors") or []:
                text = f"{error.get('path') or '(document)'}: {error.get('message')}"
                wrapped = wrap_text(text, self.width - len(pad) - 2)
                lines.append(pad + style("✗ ", "yellow") + wrapped[0])
                lines.extend(pad + "  " + w for w in wrapped[1:])
            if detail_type != "Spec Rejected":
                lines.extend(
                    pad + line
                    for line in change_lines(detail.get("changes") or [], self.width - 10, style)
                )
        if invocation.error:
            retry = (
                f"Lambda retries it ({invocation.attempt}/{DELIVERY_ATTEMPTS})"
                if invocation.attempt < DELIVERY_ATTEMPTS
                else f"last attempt: the event goes to {Defaults.FAILURE_QUEUE}"
            )
            lines.append(
                f"{stamp}  {style('invocation failed', 'red', 'bold')}  {invocation.error}  {via}"
            )
            lines.append(f"{pad}{retry}")
        if not lines and invocation.scheduled:
            checked = len(invocation.outcomes)
            verdict = (
                f"{checked} spec(s) checked, IAM matches every one" if checked else "no spec yet"
            )
            lines.append(f"{stamp}  {style('drift run', 'dim')}  {verdict}  {via}")
        if not lines:
            ignored = (invocation.result or {}).get("ignored") or ["nothing to reconcile"]
            lines.append(
                f"{stamp}  {style('ignored', 'dim')}  {'; '.join(map(str, ignored))[:300]}  {via}"
            )
        return lines


def _now() -> str:
    return time.strftime("%H:%M:%S")


def _local(args: argparse.Namespace) -> int:
    from kops_iam_tools.emulator import Emulator, FunctionConfig, Runner, placeholder_policy
    from kops_iam_tools.render import terminal_width

    if args.drift_every < 0:
        print("kops-iam local: --drift-every must be 0 or more seconds", file=sys.stderr)
        return 2
    out = sys.stdout
    printer = _Printer(out, _style(args, out), args.json, terminal_width(out))
    _function_logs(args)
    stop = threading.Event()
    previous = _on_stop_signals(stop)
    emulator: Emulator | None = None
    runner: Runner | None = None
    try:
        emulator = Emulator(
            port=args.port,
            delivery=args.delivery,
            region=args.region,
            console=True,
            managed_policies={name: placeholder_policy(name) for name in args.managed_policy},
        )
        emulator.start()
        arns = tuple(emulator.managed_policy_arn(name) for name in args.managed_policy)
        # The account id is known once the emulator runs: configure the function now.
        emulator.function = FunctionConfig(
            mode=args.mode,
            permissions_boundary=args.permissions_boundary,
            allowed_actions=tuple(args.allow_action),
            allowed_managed_policies=arns,
            adopt_existing_roles=args.adopt_existing_roles,
            retain_on_delete=args.retain_on_delete,
        )
        printer.emulator = emulator
        runner = Runner(emulator, on_invocation=printer.invocation)
        runner.start()
        if not stop.is_set():
            _announce(printer, emulator, args)
        next_drift = time.monotonic() + args.drift_every if args.drift_every else None
        while not stop.wait(0.2):
            if next_drift is not None and time.monotonic() >= next_drift:
                runner.run_schedule()
                next_drift = time.monotonic() + args.drift_every
    except KeyboardInterrupt:  # SIGINT before our handler was in place
        pass
    finally:
        try:
            if runner is not None:
                runner.stop()
            if emulator is not None:
                emulator.stop()
        finally:
            _restore_signals(previous)
    if emulator is not None and emulator.endpoint_url:
        if args.json:
            printer.record({"event": "stopped", "time": _now()})
        else:
            printer.lines(["", "stopped: the embedded AWS and its state are gone"])
    return 0


def _on_stop_signals(stop: threading.Event) -> dict[int, Any]:
    """SIGINT (Ctrl-C) and SIGTERM set ``stop``: the main loop then shuts down in order.

    A SIGINT the shell told us to ignore (a background job) stays ignored.
    """
    import signal

    previous: dict[int, Any] = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if signum == signal.SIGINT and current is signal.SIG_IGN:
            continue
        previous[signum] = signal.signal(signum, lambda *_: stop.set())
    return previous


def _restore_signals(previous: dict[int, Any]) -> None:
    import signal

    for signum, handler in previous.items():
        signal.signal(signum, handler)


def _announce(printer: _Printer, emulator: Emulator, args: argparse.Namespace) -> None:
    endpoint = emulator.endpoint_url
    tail_url = emulator.audit_queue_url
    if args.json:
        printer.record(
            {
                "event": "ready",
                "endpoint": endpoint,
                "region": emulator.region,
                "accountId": emulator.account_id,
                "bucket": emulator.bucket,
                "auditBus": emulator.bus_name,
                "auditTailQueueUrl": tail_url,
                "failureQueueUrl": emulator.failure_queue_url,
                "delivery": emulator.delivery,
            }
        )
        return
    style = printer.style
    sample = samples_directory() / "kops-page-example.yaml"
    spec = str(sample.relative_to(Path.cwd())) if sample.is_relative_to(Path.cwd()) else "spec.yaml"
    cluster = "example.k8s.dev"
    aws = f"aws --endpoint-url {endpoint}"
    via = (
        "S3 notifications → runner → lambda_handler"
        if emulator.delivery == "notification"
        else "S3 events → EventBridge rule → runner → lambda_handler"
    )
    function = emulator.function
    settings = [
        f"{function.mode} mode",
        f"boundary {function.permissions_boundary or 'none'}",
        f"approved actions {', '.join(function.allowed_actions) or 'none'}",
        "managed policies "
        + (", ".join(a.rsplit("/", 1)[-1] for a in function.allowed_managed_policies) or "none"),
    ]
    boto = (
        f'boto3.client("s3", endpoint_url="{endpoint}", region_name="{emulator.region}", '
        'aws_access_key_id="testing", aws_secret_access_key="testing")'
    )
    lines = [
        style("── kops-iam local " + "─" * 40, "bold"),
        f"  Embedded AWS (moto) on {style(endpoint, 'bold')}: "
        "127.0.0.1 only, any credentials work.",
        f"  specs bucket   s3://{emulator.bucket}  ({via})",
        f"  audit bus      {emulator.bus_name}  (rule → SQS {Defaults.AUDIT_TAIL_QUEUE})",
        f"  failure queue  {Defaults.FAILURE_QUEUE}  (events whose every attempt failed)",
        f"  function       {'; '.join(settings)}",
        "",
        "  Try, from another terminal:",
        "    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing "
        f"AWS_DEFAULT_REGION={emulator.region}",
        f"    {aws} s3 cp {spec} s3://{emulator.bucket}/{cluster}/config",
        f"    {aws} iam list-roles --query 'Roles[].RoleName'",
        f"    {aws} sqs receive-message --queue-url {tail_url} --max-number-of-messages 10",
        f"    {aws} s3 rm s3://{emulator.bucket}/{cluster}/config",
        f"    kops-iam plan --endpoint-url {endpoint} --region {emulator.region} {spec}",
        "  or in Python:",
        f"    s3 = {boto}",
        f'    s3.put_object(Bucket="{emulator.bucket}", Key="{cluster}/config", '
        f'Body=open("{spec}", "rb"))',
        "",
        f"{style('ready', 'green', 'bold')}  {endpoint}  (Ctrl-C to stop)",
    ]
    printer.lines(lines)
