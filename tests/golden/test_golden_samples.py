"""Golden files of the sample specs: what ``kops-iam render`` prints for each one.

``tests/golden/samples/<name>.json`` holds the plan of ``events/specs/<name>.yaml`` (its
stdout) and ``tests/golden/samples/invalid/<name>.txt`` the errors of
``events/specs/invalid/<name>.yaml`` (its stderr; its stdout is then empty), exactly as
``kops-iam render --account-id 123456789012 events/specs/...`` prints them from the
repository's root (with the operator's approvals of :data:`APPROVED`). ``make golden``
rewrites them; a changed policy shows as their diff.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.golden import GOLDEN, ROOT, UPDATING, check, stale

from kops_iam_tools.cli import main
from kops_iam_tools.world.names import ACCOUNT

SPECS = ROOT / "events" / "specs"
VALID = sorted(SPECS.glob("*.yaml"))
INVALID = sorted((SPECS / "invalid").glob("*.yaml"))
OUT = GOLDEN / "samples"


#: What an operator approved for a sample, as the demo does (``--allow-action``):
#: ``bastion-all-roles.yaml``'s bastion may start SSM sessions (docs/adr/0062).
APPROVED = {"bastion-all-roles.yaml": ["--allow-action", "ssm:StartSession"]}


def render(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``kops-iam render --account-id ACCOUNT [approvals] <path>`` from the repository's
    root."""
    capsys.readouterr()
    approvals = APPROVED.get(path.name, []) if path.parent == SPECS else []
    code = main(["render", "--account-id", ACCOUNT, *approvals, str(path.relative_to(ROOT))])
    out, err = capsys.readouterr()
    if code != 0:  # stdout holds the plan and nothing else; the errors go to stderr
        assert out == "", out
        return code, err
    return code, out


@pytest.fixture(autouse=True)
def at_the_root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


#: Each sample, the exit code ``render`` gives it, and its golden file.
CASES = [(p, 0, OUT / f"{p.stem}.json") for p in VALID] + [
    (p, 1, OUT / "invalid" / f"{p.stem}.txt") for p in INVALID
]


@pytest.mark.parametrize(
    ("path", "code", "golden"), CASES, ids=[str(c[0].relative_to(SPECS)) for c in CASES]
)
def test_each_sample_renders_its_golden_output(
    path: Path, code: int, golden: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # When kops-iam render runs on the sample (a plan, or the validation errors)
    exit_code, out = render(path, capsys)
    # Then it exits as expected and prints exactly its golden file
    assert exit_code == code, out
    check(golden, out)


def test_every_golden_file_has_its_sample() -> None:
    assert VALID and INVALID
    extra = stale(OUT, [OUT / f"{p.stem}.json" for p in VALID], "*.json")
    extra += stale(OUT / "invalid", [OUT / "invalid" / f"{p.stem}.txt" for p in INVALID], "*.txt")
    assert not extra, f"golden files without a sample (run `make golden`): {extra}"


@pytest.mark.skipif(UPDATING, reason="make golden writes instead of comparing")
def test_a_difference_fails_with_its_diff_and_says_make_golden(tmp_path: Path) -> None:
    golden = GOLDEN / "samples" / "kops-page-example.json"
    with pytest.raises(pytest.fail.Exception) as failed:
        check(golden, golden.read_text().replace('"eu-central-1"', '"eu-west-3"'))
    message = str(failed.value)
    assert "run `make golden`" in message
    assert '-  "region": "eu-central-1",' in message and '+  "region": "eu-west-3",' in message
