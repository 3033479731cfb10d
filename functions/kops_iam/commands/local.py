"""Placeholder until its issue lands; the CLI contract lists this command."""

from __future__ import annotations

import argparse
import sys


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    parser.add_argument("rest", nargs="*")


def run(args: argparse.Namespace) -> int:
    print(f"kops-iam {args.command}: not available in this build", file=sys.stderr)
    return 2
