"""The container's IAM snapshot cache (docs/adr/0111, 0115): when a drift check may reuse
the snapshot another check read, and when it must read IAM in bulk anew."""

from __future__ import annotations

from typing import Any

import pytest

from kops_iam.application.drift import SnapshotCache
from kops_iam.aws import iam_snapshot
from kops_iam.aws.iam_snapshot import IamSnapshot


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Each bulk read's time; the fake snapshot is taken at that moment."""
    taken: list[float] = []

    def read_snapshot(iam: Any, *, clock: Any, **_: Any) -> IamSnapshot:
        taken.append(clock())
        return IamSnapshot(roles={}, taken_at=clock(), pages=1, seen=0)

    monkeypatch.setattr(iam_snapshot, "read_snapshot", read_snapshot)
    return taken


def test_checks_of_a_run_share_one_snapshot_taken_after_it_began(reads: list[float]) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    first = cache.get(None, run_started=990.0)  # type: ignore[arg-type]
    clock.now = 1_010.0
    assert cache.get(None, run_started=990.0) is first  # type: ignore[arg-type]
    assert reads == [1_000.0] and cache.reads == 1


def test_a_check_of_a_later_run_reads_anew(reads: list[float]) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    cache.get(None, run_started=990.0)  # type: ignore[arg-type]
    clock.now = 1_100.0
    cache.get(None, run_started=1_050.0)  # type: ignore[arg-type]
    assert reads == [1_000.0, 1_100.0]


def test_a_snapshot_older_than_its_maximum_age_is_read_anew(reads: list[float]) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    cache.get(None, run_started=990.0)  # type: ignore[arg-type]
    clock.now = 1_900.0
    cache.get(None, run_started=990.0)  # type: ignore[arg-type]
    assert len(reads) == 1
    clock.now = 1_900.5
    cache.get(None, run_started=990.0)  # type: ignore[arg-type]
    assert len(reads) == 2


@pytest.mark.parametrize("started", [1_000.5, 4e9, float("inf")])
def test_a_run_that_claims_to_start_in_the_future_does_not_force_a_bulk_read(
    reads: list[float], started: float
) -> None:
    # Given a snapshot read just now
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    first = cache.get(None, run_started=999.0)  # type: ignore[arg-type]
    # When checks arrive whose run says it starts later (a skewed clock, a forged message)
    clock.now = 1_001.0
    got = [cache.get(None, run_started=started) for _ in range(5)]  # type: ignore[arg-type]
    # Then the first of them reads IAM once more (its run may have begun), and the rest
    # reuse that read: no batch can make every batch pay a bulk read
    assert reads == [1_000.0, 1_001.0]
    assert got[0] is not first and all(g is got[0] for g in got)
