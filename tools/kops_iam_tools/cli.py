"""``kops-iam`` command line: a stable contract other tools call.

Streams and exit codes are the same in every command (docs/cli.md,
:mod:`kops_iam_tools.commands.findings`): stdout carries only the command's result, errors
and warnings go to stderr; ``--json`` makes stdout one JSON document whatever happens.
Exit codes: 0 success, 1 errors (invalid or rejected spec, AWS, failed or declined apply),
2 usage errors (and ``plan --detailed-exitcode``: changes; a usage error then exits 1),
130 interrupted, 141 stdout closed by its reader.
Each subcommand lives in its own module under :mod:`kops_iam_tools.commands`, exposing
``add_arguments(parser)`` and ``run(args) -> int``; heavy imports stay inside ``run``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

from kops_iam import __version__

#: subcommand -> (module under kops_iam_tools.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("offline", "validate cluster specs; print every error with its field path"),
    "render": ("offline", "print the IAM roles and policies a spec asks for, as JSON"),
    "plan": ("live", "diff a spec against live IAM (read-only)"),
    "apply": ("live", "make live IAM match a spec"),
    "local": ("local", "run the embedded AWS emulator with the event flow wired up"),
    "demo": ("local", "show the whole flow on the embedded emulator, then stop"),
    "redrive": ("redrive", "put the events in the failure queue back to the function"),
}


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"kops_iam_tools.commands.{name}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="kops-iam", description="Keep kops cluster IAM roles as specs say.")
    parser.add_argument("--version", action="version", version=f"kops-iam {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name, (module, help_text) in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        _module(module).add_arguments(name, sub_parser)
    return parser


def _tolerant_output() -> None:
    """Specs may carry any character (lone surrogates included): never fail printing one."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    _tolerant_output()
    parser = build_parser()
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        args = parser.parse_args(arguments)
    except SystemExit as exc:
        # With --detailed-exitcode, 2 means "changes": a usage error must not look like one.
        if exc.code == 2 and "--detailed-exitcode" in arguments:
            return 1
        raise
    module = _module(COMMANDS[args.command][0])
    try:
        code: int = module.run(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`kops-iam render x | head -1`): stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
