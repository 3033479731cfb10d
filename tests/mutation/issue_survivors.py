"""The survivors issue 13 names, each made again by hand, and the test that must kill it.

``make mutation`` shows that mutants die, not which test kills them, and the issue's
``reconcile`` survivors lie partly outside its targets. This script makes each mutant the
issue names on a copy of the repository (the tree itself is never touched), runs the test
named for it, and checks that the test fails; then it puts the line back. The table in
``docs/reliability.md`` ("The survivors issue 13 names") is this list.

    .venv/bin/python tests/mutation/issue_survivors.py [WORD ...]   # only cases naming WORD

Exit status 1 when a mutant is not killed by its test, or its line is not found (the code
changed: update the case).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: What the tests read, copied next to each other as in the repository.
COPIED = ("functions", "tools", "tests", "events", "docs", "schemas", "scripts", "pyproject.toml")

POLICY = "functions/kops_iam/domain/policy.py"
RESOURCES = "functions/kops_iam/domain/additional_policies/resources.py"
CONDITIONS = "functions/kops_iam/domain/additional_policies/conditions.py"
CHECKS = "functions/kops_iam/domain/additional_policies/checks.py"
DIFF = "functions/kops_iam/aws/iam_diff.py"
WRITE = "functions/kops_iam/aws/iam_write.py"

GRID = (
    "tests/golden/test_golden_policy_grid.py::test_each_spec_of_the_grid_plans_its_golden_policies"
)
IAM_DIFF = "tests/golden/test_golden_iam_diff.py::test_each_state_of_iam_diffs_to_its_golden_writes"
STATEMENTS = "tests/unit/test_statements.py"
RECONCILE = "tests/unit/test_reconcile.py"
EVERY_ERROR = f"{RECONCILE}::test_each_error_on_each_write_means_done_concurrent_change_or_failure"


@dataclass(frozen=True)
class Case:
    survivor: str  # as the issue names it
    file: str
    old: str  # found exactly once
    new: str
    test: str  # the test that must fail


CASES: tuple[Case, ...] = (
    Case(
        "policy: every kops statement's Resource emptied",
        POLICY,
        '"Resource": list(resources)}',
        '"Resource": []}',
        f"{GRID}[legacy-minimal]",
    ),
    Case(
        "policy: a kops statement's Resource changed (kopsK8sECR of the node)",
        POLICY,
        '_statement("kopsK8sECR", ECR_READ_ACTIONS, ["*"]),\n    ]\n\n\ndef bastion',
        '_statement("kopsK8sECR", ECR_READ_ACTIONS, ["arn:aws:ecr:*"]),\n    ]\n\n\ndef bastion',
        f"{GRID}[legacy-minimal]",
    ),
    Case(
        "policy: the s3:* object grant of a state store without a path deleted",
        POLICY,
        'objects.add(f"{arn}{store.bucket}/*")',
        "pass",
        f"{GRID}[legacy-state-store-bucket-root]",
    ),
    Case(
        "policy: size > 10,240 as >=",
        POLICY,
        "if size > MAX_INLINE_POLICY_CHARS:",
        "if size >= MAX_INLINE_POLICY_CHARS:",
        "tests/unit/test_policy.py::"
        "test_inline_policies_of_exactly_iams_limit_are_accepted_one_more_is_refused",
    ),
    Case(
        "policy: policy_size with ensure_ascii=True",
        POLICY,
        "ensure_ascii=False)",
        "ensure_ascii=True)",
        "tests/unit/test_policy.py::"
        "test_policy_size_counts_non_ascii_text_as_the_characters_iam_counts",
    ),
    Case(
        "policy: the trust policy's Version",
        POLICY,
        'return {\n        "Version": POLICY_VERSION,\n        "Statement": [',
        'return {\n        "Version": "2008-10-17",\n        "Statement": [',
        f"{GRID}[legacy-minimal]",
    ),
    Case(
        "policy: a kops Sid (kopsK8sEC2NodePerms)",
        POLICY,
        '"kopsK8sEC2NodePerms"',
        '"kopsK8sEC2NodePermissions"',
        f"{GRID}[legacy-minimal]",
    ),
    Case(
        "policy: a kops Sid (kopsK8sS3StateStore)",
        POLICY,
        '_statement("kopsK8sS3StateStore", ["s3:*"]',
        '_statement("kopsK8sS3Store", ["s3:*"]',
        "tests/unit/test_policy.py::test_state_store_grants_for_masters_and_nodes",
    ),
    *(
        Case(
            f"statements: the IAM resource type {kind} dropped",
            RESOURCES,
            f'        "{kind}",\n',
            "",
            f"{STATEMENTS}::"
            "test_the_iam_resource_types_iam_lists_are_accepted_even_by_a_catalogue_without_them",
        )
        for kind in ("federated-user/", "group/", "policy/", "access-report/", "report/")
    ),
    *(
        Case(
            f"statements: the condition operator {operator} dropped",
            CONDITIONS,
            f'        "{operator}",\n',
            "",
            f"{STATEMENTS}::"
            "test_every_condition_operator_iam_documents_is_accepted_with_its_prefixes_and_suffix",
        )
        for operator in (
            "DateNotEquals",
            "DateLessThanEquals",
            "ArnEquals",
            "StringNotEquals",
            "StringNotEqualsIgnoreCase",
            "NumericGreaterThanEquals",
            "DateEquals",
        )
    ),
    Case(
        "statements: suggestions_left -= 1 deleted (the cost bound)",
        CHECKS,
        "self.suggestions_left -= 1",
        "pass",
        f"{STATEMENTS}::test_look_alike_suggestions_are_bounded_per_value",
    ),
    Case(
        "statements: a date given as a string of epoch seconds refused",
        CONDITIONS,
        "        float(value)\n        return True",
        '        float(value + "x")\n        return True',
        f"{STATEMENTS}::test_well_formed_conditions_pass[condition9]",
    ),
    Case(
        "reconcile: an unmanaged instance profile with no role in it is no conflict",
        DIFF,
        'if standing in UNTOUCHABLE or (standing == "unmanaged" and not rules.adopt):\n'
        "            what",
        'if standing in UNTOUCHABLE or (standing == "unmanaged" and not rules.adopt '
        "and profile.roles):\n            what",
        f"{IAM_DIFF}[foreign-empty-profile]",
    ),
    Case(
        "reconcile: raise WriteFailed under except BotoCoreError deleted",
        WRITE,
        "            except BotoCoreError as exc:\n"
        "                raise WriteFailed(write, done, exc) from exc",
        "            except BotoCoreError as exc:\n                break",
        f"{RECONCILE}::test_a_transport_error_is_a_failed_write_not_a_completed_one",
    ),
    Case(
        "reconcile: and -> or in the LimitExceeded / add_role_to_instance_profile clause",
        WRITE,
        '(code == "LimitExceeded" and write.operation',
        '(code == "LimitExceeded" or write.operation',
        f"{EVERY_ERROR}[AccessDenied-add_role_to_instance_profile]",
    ),
    Case(
        'reconcile: "remove_" dropped from the idempotent prefixes',
        WRITE,
        '("delete_", "detach_", "remove_")',
        '("delete_", "detach_")',
        f"{EVERY_ERROR}[NoSuchEntity-remove_role_from_instance_profile]",
    ),
    Case(
        "audit diff on create: trustPolicy without before",
        DIFF,
        'diff["trustPolicy"] = {"before": None, "after": desired_trust}',
        'diff["trustPolicy"] = {"after": desired_trust}',
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on create: permissionsBoundary without before",
        DIFF,
        'diff["permissionsBoundary"] = {"before": None, "after": wanted.permissions_boundary}',
        'diff["permissionsBoundary"] = {"after": wanted.permissions_boundary}',
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on create: tags left out",
        DIFF,
        'diff["tags"] = tag_diff({}, wanted.tags)',
        "pass",
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on create: the instance profile's created left out",
        DIFF,
        'profile_diff["created"] = True',
        "pass",
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on create: the instance profile's name left out",
        DIFF,
        'diff["instanceProfile"] = {"name": profile_name, **profile_diff}',
        'diff["instanceProfile"] = {**profile_diff}',
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on create: managed policies attached left out",
        DIFF,
        'diff["managedPolicies"] = {"attached": attach, "detached": detach}',
        'diff["managedPolicies"] = {"detached": detach}',
        f"{IAM_DIFF}[create-everything]",
    ),
    Case(
        "audit diff on delete: the instance profile's deleted left out",
        DIFF,
        'diff["instanceProfile"] = {"name": profile.name, "deleted": True}',
        "pass",
        f"{IAM_DIFF}[cluster-gone]",
    ),
    Case(
        "audit diff: the reason a role is left alone",
        DIFF,
        'diff={"reason": left_alone}',
        "diff={}",
        f"{IAM_DIFF}[another-clusters-role-when-gone]",
    ),
    Case(
        "audit diff: the reason retainOnDelete",
        DIFF,
        'diff={"reason": "retainOnDelete"}',
        "diff={}",
        f"{IAM_DIFF}[cluster-gone-retained]",
    ),
)


def copy_repository(into: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", ".hypothesis")
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=ignore)
        else:
            shutil.copy2(source, into / name)


def run(case: Case, copy: Path) -> str:
    """``killed``, ``NOT KILLED`` or why the case could not be made."""
    path = copy / case.file
    original = path.read_text(encoding="utf-8")
    if original.count(case.old) != 1:
        return f"line found {original.count(case.old)} times: update the case"
    path.write_text(original.replace(case.old, case.new), encoding="utf-8")
    try:
        env = {
            **os.environ,
            "PYTHONPATH": f"{copy / 'functions'}{os.pathsep}{copy / 'tools'}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [sys.executable, "-m", "pytest", case.test, "-q", "-p", "no:cacheprovider"]
        result = subprocess.run(
            [*command, "--tb=no", "-rf"], cwd=copy, env=env, capture_output=True, text=True
        )
    finally:
        path.write_text(original, encoding="utf-8")
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAILED ")]
    killed = result.returncode == 1 and any(line.split()[1] == case.test for line in failed)
    return "killed" if killed else f"NOT KILLED (pytest exit {result.returncode})"


def main(argv: list[str]) -> int:
    cases = [c for c in CASES if not argv or any(w in c.survivor for w in argv)]
    with tempfile.TemporaryDirectory(prefix="issue-survivors-") as folder:
        copy = Path(folder)
        copy_repository(copy)
        bad = 0
        for case in cases:
            verdict = run(case, copy)
            bad += verdict != "killed"
            print(f"{verdict:>10}  {case.survivor}  <-  {case.test}", flush=True)
    print(f"{len(cases) - bad} of {len(cases)} killed by their named test")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
