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


# --------------------------------------------------------------- the period's shared snapshot


class Store:
    """A snapshot store holding ``held`` (or raising ``error``); counts its reads."""

    def __init__(self, held: IamSnapshot | None = None, error: Exception | None = None) -> None:
        self.held = held
        self.error = error
        self.gets = 0

    def get(self) -> IamSnapshot | None:
        self.gets += 1
        if self.error is not None:
            raise self.error
        return self.held


def shared(taken_at: float) -> IamSnapshot:
    return IamSnapshot(roles={}, taken_at=taken_at, pages=3, seen=7)


def test_a_worker_takes_the_run_s_shared_snapshot_instead_of_reading_iam(
    reads: list[float],
) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    store = Store(shared(taken_at=995.0))
    got = cache.get(None, run_started=990.0, store=store)  # type: ignore[arg-type]
    assert got is store.held and reads == [] and (cache.reads, cache.loads) == (0, 1)
    # and keeps it for the run's next batches: no second GetObject
    assert cache.get(None, run_started=990.0, store=store) is got  # type: ignore[arg-type]
    assert store.gets == 1


@pytest.mark.parametrize(
    ("store", "why"),
    [
        (Store(None), "no shared snapshot yet"),
        (Store(shared(taken_at=980.0)), "taken before the run began"),
        (Store(shared(taken_at=50.0)), "older than the maximum age"),
        (Store(error=ValueError("not a snapshot")), "unreadable"),
        (Store(error=RuntimeError("AccessDenied")), "S3 refused"),
    ],
)
def test_a_shared_snapshot_that_cannot_serve_the_run_is_passed_over(
    reads: list[float], store: Store, why: str
) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    got = cache.get(None, run_started=990.0, store=store)  # type: ignore[arg-type]
    assert got is not store.held, why
    assert reads == [1_000.0] and got.taken_at == 1_000.0, why
    assert (cache.reads, cache.loads) == (1, 1), why


def test_no_message_makes_a_worker_compare_with_an_older_period_s_snapshot(
    reads: list[float],
) -> None:
    # Given a container that took last period's shared snapshot for a (possibly forged) check
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    old = shared(taken_at=400.0)
    assert cache.get(None, run_started=300.0, store=Store(old)) is old  # type: ignore[arg-type]
    # When this period's check arrives, with this period's snapshot shared
    new = shared(taken_at=960.0)
    got = cache.get(None, run_started=950.0, store=Store(new))  # type: ignore[arg-type]
    # Then it compares with this period's snapshot, never the older one
    assert got is new and reads == []


def test_the_schedule_s_own_snapshot_serves_its_container_s_batches(reads: list[float]) -> None:
    clock = Clock(1_000.0)
    cache = SnapshotCache(900, clock=clock)
    mine = shared(taken_at=995.0)
    cache.keep(mine)
    store = Store(None)
    assert cache.get(None, run_started=990.0, store=store) is mine  # type: ignore[arg-type]
    assert store.gets == 0 and reads == []
