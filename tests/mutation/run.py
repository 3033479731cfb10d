"""``make mutation``: mutation testing of the core with mutmut 3, one target per module.

For each target of ``targets.toml`` (a module of the core, the files mutmut mutates and the
tests that target it) this prepares a working folder ``build/mutation/<target>/``, runs
``mutmut run`` there and reads its verdicts back:

- mutmut copies ``src/`` (a link to ``functions/``: the ``src.`` prefix is what lets mutmut
  name ``functions/kops_iam/x.py`` as the module ``kops_iam.x`` the tests import) and the
  tests into ``mutants/``, and puts ``mutants/src`` first on ``sys.path``;
- for each mutant it runs only the target's tests that executed the mutated function;
- the folder is kept, so the next run is incremental: mutants of unchanged functions keep
  their verdict; survivors are run again (a new test may kill them), ``--fresh`` starts over.

Survivors listed in ``equivalents.txt`` are marked skipped in mutmut's own records (so the
next runs do not test them again) and counted as equivalent. The score of a target is
killed / (mutants - equivalents), in percent; timeouts count as killed. The run prints the
score per target and file and lists the survivors, writes ``build/mutation/summary.json``
and, with ``--update docs/reliability.md``, renders the figures into that page.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import json
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

# Run as a script: its folder is first on sys.path.
from equivalents import Change, Equivalent, change_of, function_of, load, match

ROOT = Path(__file__).resolve().parents[2]
TARGETS = Path(__file__).resolve().parent / "targets.toml"
BUILD = ROOT / "build" / "mutation"
MUTMUT = Path(sys.executable).parent / "mutmut"

#: What the working folder links to in the repository (tests read these from their root).
LINKS = ("tests", "events", "docs", "schemas", "scripts", "functions")
#: Copied into ``mutants/`` by mutmut next to the tests (read through ``parents[2]``).
ALSO_COPY = ("events", "docs", "schemas", "scripts", "functions/kops_iam/domain/data")

KILLED, TIMEOUT, TYPED, SURVIVED, NO_TESTS, SKIPPED, NOT_CHECKED, OTHER = (
    "killed",
    "timeout",
    "caught by mypy",
    "survived",
    "no tests",
    "skipped",
    "not checked",
    "suspicious",
)
#: mutmut's exit codes (mutmut.stats.status_by_exit_code), as this run counts them.
_STATUS = {1: KILLED, 3: KILLED, 0: SURVIVED, 5: NO_TESTS, 33: NO_TESTS, 34: SKIPPED, 37: TYPED}
#: What counts as killed: a test failed, the tests ran out of time, or ``mypy --strict`` (part
#: of ``make test``) refuses the mutated code.
DETECTED = frozenset({KILLED, TIMEOUT, TYPED})
_TIMEOUTS = {36, 24, -24, 152, 255}
#: mutmut's exit code for a mutant it skips.
SKIP_CODE = 34


def status(code: int | None) -> str:
    if code is None:
        return NOT_CHECKED
    if code in _TIMEOUTS:
        return TIMEOUT
    return _STATUS.get(code, OTHER)


@dataclass(frozen=True)
class Target:
    name: str
    threshold: float
    mutate: tuple[str, ...]
    tests: tuple[str, ...]

    @property
    def folder(self) -> Path:
        return BUILD / self.name

    def files(self) -> list[str]:
        """The mutated files, relative to the working folder (``src/kops_iam/...``)."""
        found = sorted(
            {
                f"src/{path.relative_to(ROOT / 'functions')}"
                for pattern in self.mutate
                for path in (ROOT / "functions").glob(pattern)
            }
        )
        if not found:
            raise SystemExit(f"target {self.name}: no file matches {list(self.mutate)}")
        return found


def load_targets(path: Path = TARGETS) -> list[Target]:
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    targets = []
    for name, body in document["target"].items():
        for test in body["tests"]:
            if not (ROOT / test).is_file():
                raise SystemExit(f"target {name}: test file {test} does not exist")
        targets.append(
            Target(name, float(body["threshold"]), tuple(body["mutate"]), tuple(body["tests"]))
        )
    return targets


# -- the working folder ---------------------------------------------------------------------


def _toml(value: Any) -> str:
    """A TOML value for strings, numbers, booleans and lists of them (JSON's syntax is TOML's)."""
    return json.dumps(value)


def mutmut_config(target: Target) -> str:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]
    mutmut = {
        "source_paths": ["src"],
        "only_mutate": target.files(),
        "pytest_add_cli_args_test_selection": list(target.tests),
        "pytest_add_cli_args": ["-p", "no:cacheprovider"],
        "also_copy": list(ALSO_COPY),
        # The folder is inside the repository's checkout: git would report every file of it.
        "use_git_change_detection": False,
        # mypy --strict first, as `make test` runs it: a mutant it refuses never ships. The
        # literal "mypy" in the command is how mutmut knows to read mypy's JSON report.
        "type_check_command": [sys.executable, "-m", "mypy", "--output", "json", *target.files()],
    }
    pytest = {k: v for k, v in tool["pytest"]["ini_options"].items() if k != "testpaths"}
    # The project's mypy settings; mutmut's trampolines carry `type: ignore`s mypy may find
    # unused, and the imports resolve in mutants/src.
    mypy = {k: v for k, v in tool["mypy"].items() if k not in ("files", "overrides")}
    mypy |= {"warn_unused_ignores": False, "mypy_path": "src"}
    lines = ["# Written by tests/mutation/run.py for this target; do not edit.", "[tool.mutmut]"]
    lines += [f"{key} = {_toml(value)}" for key, value in mutmut.items()]
    lines += ["", "[tool.pytest.ini_options]"]
    lines += [f"{key} = {_toml(value)}" for key, value in pytest.items()]
    lines += ["", "[tool.mypy]"]
    lines += [f"{k} = {_toml(v)}" for k, v in mypy.items() if not isinstance(v, list | dict)]
    lines += [f"{k} = {_toml(v)}" for k, v in mypy.items() if isinstance(v, list)]
    for override in tool["mypy"].get("overrides", []):
        lines += ["", "[[tool.mypy.overrides]]"]
        lines += [f"{key} = {_toml(value)}" for key, value in override.items()]
    return "\n".join(lines) + "\n"


def _damaged(folder: Path) -> bool:
    """Whether mutmut's records in ``folder`` are unreadable (a run killed while writing)."""
    for meta in (folder / "mutants").rglob("*.meta"):
        try:
            json.loads(meta.read_text())
        except ValueError:
            return True
    return False


def prepare(target: Target, fresh: bool) -> None:
    folder = target.folder
    if not fresh and folder.exists() and _damaged(folder):
        print(f"    {target.name}: mutmut's records are damaged (a killed run?): starting over")
        fresh = True
    if fresh and folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in (*LINKS, "src"):
        link = folder / name
        source = "functions" if name == "src" else name
        if not link.is_symlink():
            link.symlink_to(os.path.relpath(ROOT / source, folder))
    config = folder / "pyproject.toml"
    text = mutmut_config(target)
    if not config.exists() or config.read_text() != text:
        config.write_text(text)


# -- mutmut's records -----------------------------------------------------------------------


def _meta_path(target: Target, file: str) -> Path:
    return target.folder / "mutants" / f"{file}.meta"


def read_codes(target: Target) -> dict[str, dict[str, int | None]]:
    """Per mutated file, mutmut's exit code of each mutant (``None``: not run yet)."""
    codes: dict[str, dict[str, int | None]] = {}
    for file in target.files():
        meta = _meta_path(target, file)
        if meta.exists():
            codes[file] = json.loads(meta.read_text())["exit_code_by_key"]
    return codes


def set_codes(target: Target, file: str, new: dict[str, int | None]) -> None:
    meta = _meta_path(target, file)
    document = json.loads(meta.read_text())
    document["exit_code_by_key"].update(new)
    meta.write_text(json.dumps(document, indent=4))


@contextlib.contextmanager
def inside(folder: Path) -> Iterator[None]:
    before = Path.cwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def changes(target: Target, file: str, mutants: list[str]) -> dict[str, Change]:
    """What each mutant changes, from mutmut's own diff of it."""
    if not mutants:
        return {}
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # mutmut is a dev dependency

    with inside(target.folder):
        return {name: change_of(name, get_diff_for_mutant(name, path=file)) for name in mutants}


# -- a run ----------------------------------------------------------------------------------


def mutmut(target: Target, names: list[str], log: Path, children: int) -> None:
    command = [str(MUTMUT), "run", "--max-children", str(children), *names]
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(command[:6])}{' ...' if len(command) > 6 else ''}\n")
        out.flush()
        done = subprocess.run(
            command,
            cwd=target.folder,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "KOPS_IAM_MUTATION": "1"},  # tests/conftest.py: hypothesis
        )
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise SystemExit(f"target {target.name}: mutmut run failed ({done.returncode}):\n{tail}")


@dataclass
class FileResult:
    file: str
    codes: dict[str, int | None] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    survivors: list[tuple[str, Change]] = field(default_factory=list)
    equivalents: list[tuple[str, Equivalent]] = field(default_factory=list)
    stale: list[tuple[str, Equivalent]] = field(default_factory=list)

    @property
    def mutants(self) -> int:
        return sum(self.counts.values())

    @property
    def killed(self) -> int:
        return sum(self.counts.get(verdict, 0) for verdict in DETECTED)

    @property
    def equivalent(self) -> int:
        return len(self.equivalents)

    @property
    def survived(self) -> int:
        return self.mutants - self.killed - self.equivalent


def score(killed: int, mutants: int, equivalent: int) -> float:
    """killed / (mutants - listed equivalents), in percent (100 when nothing is left)."""
    counted = mutants - equivalent
    return 100.0 if counted <= 0 else 100.0 * killed / counted


def run_target(
    target: Target, entries: list[Equivalent], fresh: bool, children: int
) -> dict[str, Any]:
    prepare(target, fresh)
    log = target.folder / "run.log"
    log.write_text("")
    started = time.monotonic()
    cpu = _children_cpu()

    # Before the run, in mutmut's records: a survivor is tested again (a new test may kill it
    # now), and so is a mutant skipped as equivalent earlier that is no longer listed.
    for file, codes in read_codes(target).items():
        skipped = [name for name, code in codes.items() if code == SKIP_CODE]
        unlisted = [n for n, c in changes(target, file, skipped).items() if not match(c, entries)]
        again = [name for name, code in codes.items() if status(code) in (SURVIVED, NO_TESTS)]
        if unlisted or again:
            set_codes(target, file, dict.fromkeys([*unlisted, *again]))

    # mutmut records which tests execute which function once, and adds only tests it has not
    # seen since: a case added to an existing test (a golden file's) would never be run against
    # the functions it now reaches. Collecting that coverage anew costs one pass of the tests.
    (target.folder / "mutants" / "mutmut-stats.json").unlink(missing_ok=True)
    mutmut(target, [], log, children)

    files = []
    for file, codes in read_codes(target).items():
        result = FileResult(file, codes)
        survivors = [
            name for name, code in codes.items() if status(code) in (SURVIVED, NO_TESTS, SKIPPED)
        ]
        diffs = changes(target, file, survivors)
        newly_skipped: dict[str, int | None] = {}
        for name, code in codes.items():
            verdict = status(code)
            entry = match(diffs[name], entries) if name in diffs else None
            if entry is not None:
                result.equivalents.append((name, entry))
                if code != SKIP_CODE:
                    newly_skipped[name] = SKIP_CODE
                verdict = SKIPPED
            elif name in diffs:
                result.survivors.append((name, diffs[name]))
            result.counts[verdict] = result.counts.get(verdict, 0) + 1
        if newly_skipped:
            set_codes(target, file, newly_skipped)
        killed = [name for name, code in codes.items() if status(code) in DETECTED]
        result.stale = [
            (name, entry)
            for name, change in changes(target, file, _listed_functions(killed, entries)).items()
            if (entry := match(change, entries)) is not None
        ]
        files.append(result)

    seconds = time.monotonic() - started
    return summarize(target, files, seconds, _children_cpu() - cpu)


def _listed_functions(mutants: list[str], entries: list[Equivalent]) -> list[str]:
    """The mutants whose function has a listed equivalent (the only ones worth diffing)."""
    listed = {entry.change.function for entry in entries}
    return [name for name in mutants if function_of(name) in listed]


def summarize(
    target: Target, files: list[FileResult], seconds: float, cpu_seconds: float
) -> dict[str, Any]:
    def row(name: str, results: list[FileResult]) -> dict[str, Any]:
        mutants = sum(r.mutants for r in results)
        killed = sum(r.killed for r in results)
        equivalent = sum(r.equivalent for r in results)
        return {
            "name": name,
            "mutants": mutants,
            "killed": killed,
            "survived": mutants - killed - equivalent,
            "equivalent": equivalent,
            "by_mypy": sum(r.counts.get(TYPED, 0) for r in results),
            "timeout": sum(r.counts.get(TIMEOUT, 0) for r in results),
            "no_tests": sum(r.counts.get(NO_TESTS, 0) for r in results),
            "not_checked": sum(r.counts.get(NOT_CHECKED, 0) for r in results),
            "score": round(score(killed, mutants, equivalent), 1),
        }

    return {
        **row(target.name, files),
        "threshold": target.threshold,
        "seconds": round(seconds, 1),
        "cpu_seconds": round(cpu_seconds, 1),
        "tests": list(target.tests),
        "files": [row(r.file.removeprefix("src/"), [r]) for r in files],
        "survivors": [
            {
                "mutant": name,
                "status": status(r.codes[name]),
                "function": c.function,
                "removed": c.removed,
                "added": c.added,
            }
            for r in files
            for name, c in r.survivors
        ],
        "stale_equivalents": [
            {"mutant": name, "line": entry.line} for r in files for name, entry in r.stale
        ],
    }


# -- output ---------------------------------------------------------------------------------


def print_target(result: dict[str, Any]) -> None:
    mark = "ok" if result["score"] >= result["threshold"] else "BELOW"
    print(
        f"{result['name']}: {result['score']:.1f}% killed (threshold {result['threshold']:.0f}%,"
        f" {mark}): {result['mutants']} mutants, {result['killed']} killed,"
        f" ({result['by_mypy']} by mypy), {result['survived']} survived,"
        f" {result['equivalent']} equivalent; {result['seconds']:.0f} s"
    )
    if result["not_checked"]:
        print(f"    {result['not_checked']} not checked (the run was interrupted)")
    for file in result["files"]:
        print(
            f"    {file['name']}: {file['score']:.1f}% ({file['killed']}/"
            f"{file['mutants'] - file['equivalent']}, {file['equivalent']} equivalent)"
        )
    for survivor in result["survivors"]:
        print(f"  {survivor['status']}: {survivor['mutant']}")
        for line in survivor["removed"]:
            print(f"      - {line}")
        for line in survivor["added"]:
            print(f"      + {line}")
    for stale in result["stale_equivalents"]:
        print(
            f"  killed, yet listed as equivalent (equivalents.txt line {stale['line']}):"
            f" {stale['mutant']}"
        )


def commit() -> str:
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "functions", "tests"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{head}{' (with uncommitted changes)' if dirty else ''}"


def _with_earlier(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every target's latest figures: this run's, and an earlier run's for the targets this
    run left out (``make mutation MUTATION=policy`` keeps the other rows), in targets order."""
    earlier: dict[str, dict[str, Any]] = {}
    previous = BUILD / "summary.json"
    if previous.exists():
        earlier = {t["name"]: t for t in json.loads(previous.read_text()).get("targets", [])}
    latest = {**earlier, **{t["name"]: t for t in results}}
    return [latest[t.name] for t in load_targets() if t.name in latest]


def render(summary: dict[str, Any]) -> str:
    """The figures block of docs/reliability.md."""
    lines = [
        f"mutmut {summary['mutmut']}, Python {summary['python']}, {summary['cpus']} CPUs"
        f" (load average {summary['load'][0]:.1f} at the start, {summary['load'][1]:.1f} at"
        f" the end), `--max-children {summary['children']}`, niced; commit"
        f" `{summary['commit']}`; {summary['mode']}: {summary['seconds'] / 60:.1f} min wall,"
        f" {summary['cpu_seconds'] / 60:.1f} CPU-minutes.",
        "",
        "| Module | Mutants | Killed (by mypy) | Survived | Equivalent | Score | Target"
        " | Wall / CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for t in summary["targets"]:
        lines.append(
            f"| `{t['name']}` | {t['mutants']} | {t['killed']} ({t['by_mypy']}) | {t['survived']} |"
            f" {t['equivalent']} | {t['score']:.1f}% | {t['threshold']:.0f}% |"
            f" {t['seconds']:.0f} s / {t['cpu_seconds']:.0f} s |"
        )
        if len(t["files"]) > 1:
            for f in t["files"]:
                lines.append(
                    f"| &nbsp;&nbsp;`{f['name']}` | {f['mutants']} |"
                    f" {f['killed']} ({f['by_mypy']}) | {f['survived']} | {f['equivalent']} |"
                    f" {f['score']:.1f}% | | |"
                )
    carried = [t for t in summary["targets"] if t["name"] not in summary.get("ran", [])]
    total = {
        k: sum(t[k] for t in summary["targets"])
        for k in ("mutants", "killed", "by_mypy", "equivalent")
    }
    survived = total["mutants"] - total["killed"] - total["equivalent"]
    lines.append(
        f"| **all** | {total['mutants']} | {total['killed']} ({total['by_mypy']}) | {survived} |"
        f" {total['equivalent']} |"
        f" {score(total['killed'], total['mutants'], total['equivalent']):.1f}% | |"
        f" {summary['seconds']:.0f} s / {summary['cpu_seconds']:.0f} s |"
    )
    if carried:
        earlier = ", ".join(f"`{t['name']}` (commit `{t.get('commit', '?')}`)" for t in carried)
        lines += ["", f"Not in this run, figures of their last run: {earlier}."]
    return "\n".join(lines) + "\n"


def update(document: Path, block: str) -> None:
    start, end = "<!-- figures:mutation -->", "<!-- /figures:mutation -->"
    text = document.read_text()
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{document}: no {start} ... {end} block")
    document.write_text(pattern.sub(lambda _: f"{start}\n{block}{end}", text))


def _children_cpu() -> float:
    """CPU seconds (user + system) used by the finished mutmut runs and their workers."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("targets", nargs="*", help="targets to run (default: all); globs work")
    parser.add_argument("--fresh", action="store_true", help="forget earlier verdicts")
    parser.add_argument("--children", type=int, default=2, help="mutants run at once (2)")
    parser.add_argument("--update", type=Path, metavar="DOC", help="render the figures into DOC")
    args = parser.parse_args(argv)

    targets = load_targets()
    if args.targets:
        targets = [t for t in targets if any(fnmatch.fnmatch(t.name, p) for p in args.targets)]
        if not targets:
            raise SystemExit(f"no target matches {args.targets}")
    entries = load()
    load_start = os.getloadavg()[0]
    started = time.monotonic()
    cpu_start = _children_cpu()
    results = []
    for target in targets:
        print(f"== {target.name}: mutmut run (log: {target.folder.relative_to(ROOT)}/run.log)")
        sys.stdout.flush()
        result = run_target(target, entries, args.fresh, args.children)
        print_target(result)
        results.append(result)
    head = commit()
    for result in results:
        result["commit"] = head
    summary = {
        "mutmut": version("mutmut"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "children": args.children,
        "load": [load_start, os.getloadavg()[0]],
        "commit": head,
        "mode": "fresh run" if args.fresh else "incremental run",
        "ran": [t["name"] for t in results],
        "seconds": round(time.monotonic() - started, 1),
        "cpu_seconds": round(_children_cpu() - cpu_start, 1),
        "targets": _with_earlier(results),
    }
    BUILD.mkdir(parents=True, exist_ok=True)
    (BUILD / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print()
    print(render(summary), end="")
    if args.update is not None:
        update(args.update, render(summary))
        print(f"updated {args.update}")
    below = [t["name"] for t in results if t["score"] < t["threshold"]]
    if below:
        print(f"below their threshold: {', '.join(below)}")
    return 1 if below else 0


if __name__ == "__main__":
    raise SystemExit(main())
