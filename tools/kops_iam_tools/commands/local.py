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
    from rich.console import Console, RenderableType

    from kops_iam_tools.demo import Step
    from kops_iam_tools.emulator import Emulator, Invocation

#: Where the sample specs live in a checkout, relative to its root (the working directory).
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
            help="directory of the sample specs (default: the ones shipped with kops-iam, "
            "which are events/specs of the checkout)",
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
    """The sample specs: ``explicit``, else those shipped with the package."""
    from kops_iam_tools.demo import packaged_samples

    return explicit if explicit is not None else packaged_samples()


def _function_logs(args: argparse.Namespace) -> None:
    import logging

    from kops_iam_tools.emulator import route_function_output

    route_function_output(sys.stderr if args.verbose else None, logging.INFO)


def _console(args: argparse.Namespace, out: IO[str]) -> Console | None:
    """The terminal report's console; none for ``--json``, which never loads Rich."""
    if args.json:
        return None
    from kops_iam_tools.render import console, wants_colour

    return console(out, wants_colour(out, args.color))


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

    started = time.perf_counter()
    out = sys.stdout
    terminal = _console(args, out)
    directory = samples_directory(args.specs)
    samples = [load_sample(directory, name) for name in SAMPLES]
    invalid = load_sample(directory, INVALID_SAMPLE)
    _function_logs(args)
    emulator = emulator_for([*samples, invalid], port=args.port, delivery=args.delivery)

    def show(step: Step) -> None:
        if terminal is not None:
            from kops_iam_tools.render import emit, step_report

            emit(terminal, step_report(step, len(scenario.steps), len(STEPS), terminal.width))

    with emulator:
        if terminal is not None:
            from kops_iam_tools.render import emit, intro

            emit(
                terminal,
                intro(
                    emulator.endpoint_url,
                    emulator.bucket,
                    emulator.bus_name,
                    Defaults.AUDIT_TAIL_QUEUE,
                    emulator.delivery,
                ),
            )
        with Runner(emulator) as runner:
            scenario = Scenario(emulator, runner, samples, invalid, on_step=show)
            scenario.run()
    seconds = time.perf_counter() - started
    if terminal is None:
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
        from kops_iam_tools.render import emit, outro

        emit(terminal, outro(scenario.steps, seconds, scenario.ok))
    return 0 if scenario.ok else 1


# --------------------------------------------------------------------------- local


class _Printer:
    """Prints what ``local`` sees, one event at a time (called from the runner's thread)."""

    def __init__(self, out: IO[str], terminal: Console | None) -> None:
        self.out = out
        self.terminal = terminal  # none: JSON lines
        self.emulator: Emulator | None = None
        self._lock = threading.Lock()

    def show(self, *renderables: RenderableType, soft_wrap: bool = False) -> None:
        from kops_iam_tools.render import emit

        assert self.terminal is not None
        with self._lock:
            emit(self.terminal, *renderables, soft_wrap=soft_wrap)

    def record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.out.write(json.dumps(record, default=str) + "\n")
            self.out.flush()

    def invocation(self, invocation: Invocation) -> None:
        from kops_iam_tools.demo import audit_entry, invocation_entry
        from kops_iam_tools.render import invocation_report

        audit = [audit_entry(e) for e in self.emulator.console_events()] if self.emulator else []
        if self.terminal is None:
            self.record(
                {
                    "event": "invocation",
                    "time": _now(),
                    **invocation_entry(invocation),
                    "audit": audit,
                }
            )
            return
        self.show(invocation_report(invocation, audit, _now(), self.terminal.width))


def _now() -> str:
    return time.strftime("%H:%M:%S")


def _local(args: argparse.Namespace) -> int:
    from kops_iam_tools.emulator import Emulator, FunctionConfig, Runner, placeholder_policy

    if args.drift_every < 0:
        print("kops-iam local: --drift-every must be 0 or more seconds", file=sys.stderr)
        return 2
    out = sys.stdout
    printer = _Printer(out, _console(args, out))
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
            from rich.text import Text

            printer.show(Text(), Text("stopped: the embedded AWS and its state are gone"))
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
    from kops_iam_tools.render import local_banner

    sample = samples_directory() / "kops-page-example.yaml"
    in_checkout = Path.cwd() / SAMPLES_RELATIVE / sample.name
    spec = str(SAMPLES_RELATIVE / sample.name) if in_checkout.is_file() else str(sample)
    settings, to_try = local_banner(emulator, spec)
    printer.show(settings)
    printer.show(to_try, soft_wrap=True)
