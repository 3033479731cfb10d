"""A deterministic interleaving scheduler for concurrent invocations (test support).

Each participant runs in its own thread but only one runs at a time: before every AWS call
(the wire's checkpoint) a participant stops, and the scheduler picks, with a seeded random
generator, which stopped participant goes next. The same seed gives the same interleaving
at AWS-call granularity, so a race it finds can be replayed. Threads that are not
participants (botocore's, a thread pool's) pass checkpoints freely.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field


class Stuck(Exception):
    """No participant made progress for the timeout: a deadlock in the code or the test."""


@dataclass
class _Participant:
    name: str
    thread: threading.Thread
    waiting: bool = False
    granted: bool = False
    done: bool = False
    error: BaseException | None = None


@dataclass
class Scheduler:
    seed: int
    timeout: float = 60.0
    steps: int = 0
    trace: list[str] = field(default_factory=list)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _participants: dict[str, _Participant] = field(default_factory=dict)
    _running: str | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    # -- called by participants -------------------------------------------------------

    def checkpoint(self, site: str = "") -> None:
        name = threading.current_thread().name
        with self._cond:
            me = self._participants.get(name)
            if me is None:
                return
            me.waiting = True
            if self._running == name:
                self._running = None
            self._cond.notify_all()
            if not self._cond.wait_for(lambda: me.granted, timeout=self.timeout):
                raise Stuck(f"{name} was never scheduled again (at {site})")
            me.granted = False
            me.waiting = False
            self.trace.append(f"{name}:{site}")

    def spawn(self, name: str, work: Callable[[], None]) -> None:
        """Add a participant; it starts stopped at a checkpoint."""

        def body() -> None:
            participant = self._participants[name]
            try:
                self.checkpoint("start")
                work()
            except BaseException as exc:  # reported by run()
                participant.error = exc
            finally:
                with self._cond:
                    participant.done = True
                    if self._running == name:
                        self._running = None
                    self._cond.notify_all()

        thread = threading.Thread(target=body, name=name, daemon=True)
        with self._cond:
            self._participants[name] = _Participant(name, thread)
        thread.start()

    # -- the scheduler ----------------------------------------------------------------

    def _settled(self) -> bool:
        return self._running is None and all(
            p.done or p.waiting for p in self._participants.values()
        )

    def run(self) -> None:
        """Schedule until every participant (including ones spawned meanwhile) is done."""
        while True:
            with self._cond:
                if not self._cond.wait_for(self._settled, timeout=self.timeout):
                    raise Stuck(f"participants did not settle: running={self._running}")
                ready = sorted(
                    p.name for p in self._participants.values() if p.waiting and not p.done
                )
                if not ready:
                    break
                chosen = self._rng.choice(ready)
                self._running = chosen
                self._participants[chosen].granted = True
                self.steps += 1
                self._cond.notify_all()
        for participant in self._participants.values():
            participant.thread.join(timeout=self.timeout)
            if participant.error is not None:
                raise participant.error
