"""``make mutation``'s own parts: the equivalents file, the targets, the score, the config."""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "mutation"))
equivalents = importlib.import_module("equivalents")
runner = importlib.import_module("run")

#: A diff as mutmut shows it (``mutmut show``).
DIFF = """\
--- src/kops_iam/domain/naming.py
+++ src/kops_iam/domain/naming.py
@@ -8,5 +8,5 @@
     if len(name) <= max_length:
         return name
-    digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, "big")
+    digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, )
     suffix = base64.b32hexencode(digest).decode("ascii").lower()[:_HASH_LENGTH]
"""


def test_the_equivalents_file_parses_and_each_entry_names_a_function_that_exists() -> None:
    # Given the committed list of equivalent mutants
    entries = equivalents.load()
    assert entries
    # Then each has a reason, is listed once, and names a function of the package
    assert all(entry.why for entry in entries)
    changes = [entry.change for entry in entries]
    assert len(changes) == len(set(changes)), "an equivalent is listed twice"
    for entry in entries:
        module, _, name = entry.change.function.rpartition(".")
        owner: object
        try:
            owner = importlib.import_module(module)
        except ModuleNotFoundError:  # a method: Class.name
            module, _, cls = module.rpartition(".")
            owner = getattr(importlib.import_module(module), cls)
        assert hasattr(owner, name), (
            f"equivalents.txt line {entry.line}: no {entry.change.function}"
        )


def test_a_mutant_matches_the_entry_of_its_function_and_lines_only() -> None:
    # Given a mutant's diff and the entry listing it (spacing written differently)
    name = "kops_iam.domain.naming.x_truncate_name__mutmut_6"
    text = (
        "kops_iam.domain.naming.truncate_name\n"
        '  -   digest = fnv1a_32(name.encode("utf-8")).to_bytes(4,   "big")\n'
        '  + digest = fnv1a_32(name.encode("utf-8")).to_bytes(4, )\n'
        "  why: byteorder defaults to big\n"
    )
    (entry,) = equivalents.parse(text)
    change = equivalents.change_of(name, DIFF)
    # Then the mutant matches it; the same lines in another function do not
    assert equivalents.match(change, [entry]) == entry
    other = equivalents.change_of("kops_iam.domain.naming.x_role_name__mutmut_6", DIFF)
    assert equivalents.match(other, [entry]) is None


@pytest.mark.parametrize(
    ("mutant", "function"),
    [
        (
            "kops_iam.domain.naming.x_truncate_name__mutmut_6",
            "kops_iam.domain.naming.truncate_name",
        ),
        (
            "kops_iam.domain.parsing.xǁ_Pathsǁ_index__mutmut_12",
            "kops_iam.domain.parsing._Paths._index",
        ),
        ("kops_iam.domain.spec.x__check__mutmut_1", "kops_iam.domain.spec._check"),
    ],
)
def test_mutants_are_named_after_their_function(mutant: str, function: str) -> None:
    assert equivalents.function_of(mutant) == function


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("kops_iam.m.f\n  - a\n  + b\n", "line 1: the entry has no reason"),
        ("kops_iam.m.f\n  why: r\n", "line 1: the entry names no changed line"),
        ("kops_iam.m.f\n  - a\n  ? b\n  why: r\n", "line 3: expected '- line', '+ line'"),
        ("kops_iam.m.f\n  - a\n  why: r\n  why: s\n", "line 4: one reason per entry"),
        ("  - a\n", "line 1: an entry starts with the function's dotted name"),
    ],
)
def test_a_malformed_entry_is_refused_naming_its_line(text: str, error: str) -> None:
    with pytest.raises(equivalents.EquivalentsError, match=re.escape(error)):
        equivalents.parse(text)


def test_the_score_leaves_the_equivalents_out() -> None:
    assert runner.score(killed=95, mutants=105, equivalent=5) == 95.0
    assert runner.score(killed=0, mutants=3, equivalent=3) == 100.0
    assert runner.score(killed=9, mutants=10, equivalent=0) == 90.0


@pytest.mark.parametrize(
    ("code", "status", "detected"),
    [
        (1, "killed", True),
        (3, "killed", True),
        (37, "caught by mypy", True),
        (-24, "timeout", True),
        (36, "timeout", True),
        (0, "survived", False),
        (33, "no tests", False),
        (34, "skipped", False),
        (None, "not checked", False),
        (-11, "suspicious", False),
    ],
)
def test_mutmuts_exit_codes_are_read_as_verdicts(
    code: int | None, status: str, detected: bool
) -> None:
    assert runner.status(code) == status
    assert (runner.status(code) in runner.DETECTED) is detected


def test_every_module_of_the_core_is_a_target_with_existing_tests() -> None:
    # Given the targets (load_targets refuses a test file that does not exist)
    targets = {t.name: t for t in runner.load_targets()}
    mutated = {file for t in targets.values() for file in t.files()}
    # Then the modules issue 13 names are mutated, each in exactly one target
    for module in (
        "domain/parsing.py",
        "domain/spec/__init__.py",
        "domain/spec/network.py",
        "domain/additional_policies/checks.py",
        "domain/catalogue.py",
        "domain/guardrail.py",
        "domain/naming.py",
        "domain/ownership.py",
        "domain/policy.py",
        "aws/iam_diff.py",
        "aws/iam_write.py",
    ):
        assert f"src/kops_iam/{module}" in mutated, module
    assert sum(len(t.files()) for t in targets.values()) == len(mutated)
    assert {t.threshold for t in targets.values()} == {95.0, 90.0}
    assert targets["iam_diff"].threshold == targets["iam_write"].threshold == 90.0


def test_the_generated_mutmut_config_runs_mypy_strict_first_on_the_targets_files() -> None:
    target = next(t for t in runner.load_targets() if t.name == "policy")
    config = tomllib.loads(runner.mutmut_config(target))
    mutmut = config["tool"]["mutmut"]
    assert mutmut["source_paths"] == ["src"]
    assert mutmut["only_mutate"] == ["src/kops_iam/domain/policy.py"]
    assert mutmut["pytest_add_cli_args_test_selection"] == list(target.tests)
    # mutmut reads mypy's JSON only when "mypy" itself is an element of the command
    assert mutmut["type_check_command"][1:] == [
        "-m",
        "mypy",
        "--output",
        "json",
        "src/kops_iam/domain/policy.py",
    ]
    mypy = config["tool"]["mypy"]
    assert mypy["strict"] is True and mypy["warn_unused_ignores"] is False
    assert config["tool"]["mypy"]["overrides"][0]["ignore_missing_imports"] is True


def test_the_figures_name_the_targets_an_earlier_run_measured() -> None:
    row = {
        "mutants": 10,
        "killed": 9,
        "by_mypy": 4,
        "survived": 0,
        "equivalent": 1,
        "score": 100.0,
        "threshold": 95.0,
        "seconds": 60.0,
        "cpu_seconds": 100.0,
        "files": [],
    }
    summary = {
        "mutmut": "3.8.1",
        "python": "3.11.7",
        "cpus": 2,
        "children": 2,
        "load": [4.0, 5.0],
        "commit": "abc1234",
        "mode": "incremental run",
        "seconds": 120.0,
        "cpu_seconds": 200.0,
        "ran": ["naming"],
        "targets": [
            {**row, "name": "naming", "commit": "abc1234"},
            {**row, "name": "policy", "commit": "0ld0000"},
        ],
    }
    block = runner.render(summary)
    assert "| `naming` | 10 | 9 (4) | 0 | 1 | 100.0% | 95% | 60 s / 100 s |" in block
    assert "| **all** | 20 | 18 (8) | 0 | 2 | 100.0% | | 120 s / 200 s |" in block
    assert block.endswith(
        "Not in this run, figures of their last run: `policy` (commit `0ld0000`).\n"
    )


def test_each_survivor_the_issue_names_is_still_made_on_the_code_and_its_test_exists() -> None:
    # Given the hand-made mutants of issue 13's survivors (tests/mutation/issue_survivors.py)
    survivors = importlib.import_module("issue_survivors")
    assert len(survivors.CASES) == 35
    for case in survivors.CASES:
        # Then the line each changes is in the code once (or the case must be updated) ...
        assert (ROOT / case.file).read_text(encoding="utf-8").count(case.old) == 1, case
        # ... and the test named to kill it exists
        path, _, test = case.test.partition("::")
        assert f"def {test.partition('[')[0]}(" in (ROOT / path).read_text(encoding="utf-8")
