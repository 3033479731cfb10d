"""The decision-speed bench decides every sample spec as its operator runs it.

From ADR 62 to 2026-12-02 one sample (bastion-all-roles.yaml, whose bastion asks for
ssm:StartSession) was rejected by the bench's options and a multi-document sample could not
be read by its phases: `make bench` printed the section as "not measured" and its target
went unchecked. This test runs the section once, small."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench import decision
from bench.machine import APPROVED_ACTIONS


def test_every_sample_is_decided_and_measured() -> None:
    # Given the sample specs, a multi-document one among them
    samples = decision.sample_specs()
    assert any(data.count(b"\n---") > 0 for _name, data in samples)

    # When the section runs (one round, one iteration)
    rows, raw, _profile = decision.run(1, 1)

    # Then every sample was decided, and each figure has a value and a verdict
    assert raw["samples"] == [name for name, _ in samples]
    assert rows, "no rows"
    assert all(row.status != "not measured" for row in rows)
    throughput = [r for r in rows if r.figure.endswith("sample specs: throughput (1 core)")]
    assert len(throughput) == 1
    assert throughput[0].status in ("met", "NOT MET")
    assert throughput[0].value.endswith("specs/s (n=1)")


def test_the_samples_are_decided_with_their_operators_approvals() -> None:
    # The bench's options approve what the samples' operators approve, and nothing else
    assert decision.OPTIONS.allowed_actions == frozenset(APPROVED_ACTIONS)
    assert APPROVED_ACTIONS == ("ssm:StartSession",)
