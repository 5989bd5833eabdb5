"""Shadow calls off the hot path: one bounded queue and one worker thread per shadow model.

``submit`` only appends to the model's queue (and wakes its worker when it sleeps): the
request that triggered it never waits. The worker takes what has queued up, at most
``max_batch`` calls, and scores them with one ``predict_batch`` (``apredict_batch`` on the
worker's own event loop for natively async models such as HTTP), so under load a shadow at
100% costs one model call per batch, not per request. A model without a ``predict_batch``
of its own (a plain Python function) is called row by row by the same worker. A queue that
is full drops the call and counts it. Each model has its own worker and queue: a slow or
hung shadow fills and drops only its own calls and never holds a thread that serves the
champion.

A model measured fast at load time (``inline``) submitted from an event loop never reaches a
thread: its queue is drained by a callback on that loop ``loop_linger`` after the first call
waiting, one batch per callback, between requests. A second thread would cost more than the
model: under load every batch would fight the loop for the GIL.

A call whose model call took longer than the shadow's timeout is logged as ``timeout after
N ms`` without a prediction (an async model is cancelled at the deadline; a sync one cannot
be interrupted and is logged when it returns). If a batch fails, its calls are retried one
by one so that one bad row does not fail its neighbours.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from champion.models import ModelAdapter

__all__ = ["ShadowOutcome", "ShadowRunner", "ShadowStats"]


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """One finished shadow call, handed to the runner's ``on_result`` callback."""

    model: str
    prediction: Any
    latency_ms: float
    error: str | None
    context: Any


@dataclass(slots=True)
class ShadowStats:
    submitted: int = 0
    completed: int = 0
    errors: int = 0
    timeouts: int = 0
    dropped: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


_IDLE_NAPS = 25  # empty naps (of ``linger``) before a worker blocks until signalled

# One queued call: the features, the timeout in seconds and the caller's context.
_Item = tuple[Mapping[str, Any], float, Any]


class _Lane:
    """One shadow model's queue and the thread that drains it."""

    __slots__ = (
        "adapter", "batches", "busy", "idle", "loop", "loop_busy", "loop_queue", "loop_taken",
        "on_loop", "queue", "taken", "thread", "timer", "urgent", "wake",
    )  # fmt: skip

    def __init__(self, adapter: ModelAdapter) -> None:
        self.adapter = adapter
        # Natively async models and frameworks with their own predict_batch score a batch in
        # one call; the others would only loop over its rows.
        self.batches = (
            adapter.is_async or type(adapter).predict_batch is not ModelAdapter.predict_batch
        )
        self.queue: deque[_Item] = deque()
        self.wake = threading.Event()
        self.idle = True  # the worker blocks on ``wake``: a submit must set it
        self.busy = 0  # calls taken from the queue and not handed on yet
        self.taken = 0  # calls ever taken from the queue (only the worker writes it)
        self.thread: threading.Thread | None = None
        # A model measured fast (``inline``) submitted from an event loop is scored on that
        # loop, between requests: no thread and no hand-off at all.
        self.on_loop = adapter.inline is True and not adapter.is_async
        self.loop_queue: deque[_Item] = deque()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.timer: asyncio.TimerHandle | None = None  # a drain after ``loop_linger``
        self.urgent = False  # a drain at the loop's next turn (a full batch is waiting)
        self.loop_busy = 0
        self.loop_taken = 0


class ShadowRunner:
    """Runs shadow predictions in the background; ``submit`` returns at once.

    ``max_queue`` bounds the calls waiting per shadow model; ``max_batch`` the calls one
    model call scores; ``linger`` is how long a worker that woke up waits for more calls to
    join its batch, ``loop_linger`` the same for a fast model scored on the event loop
    (seconds; the answer to the caller has already gone).
    """

    def __init__(
        self,
        on_result: Callable[[ShadowOutcome], None],
        *,
        max_queue: int = 1024,
        max_batch: int = 64,
        linger: float = 0.002,
        loop_linger: float = 0.02,
    ) -> None:
        self._on_result = on_result
        self._max_queue = max_queue
        self._max_batch = max_batch
        self._linger = linger
        self._loop_linger = loop_linger
        self._loop_full = max(1, min(max_batch, max_queue // 2))
        self._done = ShadowStats()  # completed, errors, timeouts, batches: the workers'
        self._dropped = 0
        self._lock = threading.Lock()
        self._lanes: dict[int, _Lane] = {}
        self._closed = False

    def submit(
        self,
        adapter: ModelAdapter,
        features: Mapping[str, Any],
        *,
        timeout_ms: float,
        context: Any = None,
    ) -> bool:
        """Queue one shadow call; False (and counted) when its queue is full or closed.

        ``features`` is kept as given, not copied: the caller must not change it afterwards
        (the gateway's request bodies are parsed per request and never touched again).
        """
        lane = self._lanes.get(id(adapter))
        if lane is None:
            lane = self._lane(adapter)
        loop = _running_loop() if lane.on_loop else None
        queue = lane.loop_queue if loop is not None else lane.queue
        if self._closed or len(queue) >= self._max_queue:
            with self._lock:
                self._dropped += 1
            return False
        # No lock: a deque append is atomic, and the drains count what they take.
        queue.append((features, timeout_ms / 1000.0, context))
        if loop is not None:
            if lane.loop is not loop:  # a new loop: a drain pending on the old one is gone
                lane.loop, lane.timer, lane.urgent = loop, None, False
            if len(queue) >= self._loop_full:
                if not lane.urgent:
                    lane.urgent = True  # a batch is ready: score it at the loop's next turn
                    loop.call_soon(self._drain_on_loop, lane)
            elif lane.timer is None:
                lane.timer = loop.call_later(self._loop_linger, self._drain_on_loop, lane)
            return True
        if lane.thread is None:
            self._start_worker(lane)
        if lane.idle:
            lane.wake.set()
        return True

    def _drain_on_loop(self, lane: _Lane) -> None:
        """Score one batch of the loop's queue on the loop, then wait for the next one.

        One drain is pending at a time: a full batch scores at the loop's next turn (and
        cancels the linger timer); fewer calls wait ``loop_linger`` for company, so a model
        call is not spent on the one request that came in while a batch was scored.
        """
        lane.urgent = False
        if lane.timer is not None:
            lane.timer.cancel()
            lane.timer = None
        self._take(lane, lane.loop_queue, None, on_loop=True)
        queue, loop = lane.loop_queue, lane.loop
        if not queue or loop is None or loop.is_closed():
            return
        if len(queue) >= self._loop_full:
            lane.urgent = True
            loop.call_soon(self._drain_on_loop, lane)  # other requests run in between
        else:
            lane.timer = loop.call_later(self._loop_linger, self._drain_on_loop, lane)

    @property
    def stats(self) -> ShadowStats:
        """Counters since the runner started (``submitted``: taken or waiting now)."""
        lanes = list(self._lanes.values())
        with self._lock:
            done = ShadowStats(**self._done.as_dict())
            done.dropped = self._dropped
        done.submitted = sum(
            lane.taken + len(lane.queue) + lane.loop_taken + len(lane.loop_queue) for lane in lanes
        )
        return done

    def _lane(self, adapter: ModelAdapter) -> _Lane:
        with self._lock:
            lane = self._lanes.get(id(adapter))
            if lane is None:
                lane = self._lanes[id(adapter)] = _Lane(adapter)
            return lane

    def _start_worker(self, lane: _Lane) -> None:
        with self._lock:
            if lane.thread is None:
                lane.thread = threading.Thread(
                    target=self._work, args=(lane,), name=f"champion-shadow-{lane.adapter.name}",
                    daemon=True,
                )  # fmt: skip
                lane.thread.start()

    # -- the worker ----------------------------------------------------------------------

    def _work(self, lane: _Lane) -> None:
        loop = asyncio.new_event_loop() if lane.adapter.is_async else None
        queue = lane.queue
        # While calls keep coming the worker naps ``linger`` between batches and submits
        # never signal it; after ``_IDLE_NAPS`` empty naps it blocks until one does.
        naps = 0
        linger = self._linger or 0.0005
        try:
            while True:
                if not queue:
                    if self._closed:
                        return
                    if naps < _IDLE_NAPS:
                        naps += 1
                        time.sleep(linger)
                        continue
                    lane.idle = True
                    if not queue:  # a submit before the flag was set did not signal
                        lane.wake.wait(0.5)
                    lane.wake.clear()
                    lane.idle = False
                    if self._linger and not self._closed:
                        time.sleep(self._linger)  # let concurrent requests join this batch
                    continue
                naps = 0
                self._take(lane, queue, loop, on_loop=False)
        finally:
            if loop is not None:
                loop.close()

    def _take(self, lane: _Lane, queue: deque[_Item], loop: Any, *, on_loop: bool) -> None:
        """Score up to ``max_batch`` calls of ``queue`` and hand each outcome on."""
        n = min(len(queue), self._max_batch)
        if not n:
            return
        if on_loop:
            lane.loop_busy, lane.loop_taken = n, lane.loop_taken + n
        else:
            lane.busy, lane.taken = n, lane.taken + n
        batch = [queue.popleft() for _ in range(n)]
        try:
            if lane.batches or on_loop:  # on the loop the model is fast: one timing for all
                self._run(lane.adapter, batch, loop)
            else:  # a slow model that scores row by row: time (and cut) each call alone
                for item in batch:
                    self._run(lane.adapter, [item], loop)
        finally:
            if on_loop:
                lane.loop_busy = 0
            else:
                lane.busy = 0

    def _run(self, adapter: ModelAdapter, batch: list[_Item], loop: Any) -> None:
        timeout = min(item[1] for item in batch)
        start = time.perf_counter()
        try:
            predictions = self._call(adapter, [item[0] for item in batch], timeout, loop)
        except TimeoutError:
            predictions = None
            error: str | None = f"timeout after {timeout * 1000:g} ms"
        except Exception as e:
            if len(batch) > 1:  # find the row at fault: the others still get answers
                for item in batch:
                    self._run(adapter, [item], loop)
                return
            predictions, error = None, f"{type(e).__name__}: {e}"
        else:
            error = None
            if len(predictions) != len(batch):
                predictions = None
                error = f"ValueError: {len(batch)} rows gave {len(predictions or [])} predictions"
        took = (time.perf_counter() - start) * 1000.0
        if error is None and took > timeout * 1000.0:  # a sync model that overran
            error, predictions = f"timeout after {timeout * 1000:g} ms", None
        with self._lock:
            stats = self._done
            stats.batches += 1
            if error is None:
                stats.completed += len(batch)
            elif error.startswith("timeout"):
                stats.timeouts += len(batch)
            else:
                stats.errors += len(batch)
        name, on_result = adapter.name, self._on_result
        for i, item in enumerate(batch):
            prediction = predictions[i] if predictions is not None else None
            try:
                on_result(ShadowOutcome(name, prediction, took, error, item[2]))
            except Exception:  # a logging failure must not kill the worker
                with self._lock:
                    self._done.errors += 1

    @staticmethod
    def _call(adapter: ModelAdapter, rows: list[Mapping[str, Any]], timeout: float,
              loop: Any) -> list[Any]:  # fmt: skip
        if loop is None:
            return adapter.predict_batch(rows)
        return loop.run_until_complete(asyncio.wait_for(adapter.apredict_batch(rows), timeout))  # type: ignore[no-any-return]

    # -- waiting and closing -------------------------------------------------------------

    def in_flight(self) -> int:
        """Shadow calls submitted whose result has not been handed on yet."""
        return sum(
            len(lane.queue) + lane.busy + len(lane.loop_queue) + lane.loop_busy
            for lane in list(self._lanes.values())
        )

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted call has been logged (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.in_flight() and time.monotonic() < deadline:
            self._drain_stranded()
            time.sleep(0.005)
        return self.in_flight() == 0

    def _drain_stranded(self) -> None:
        """Score here what waits for an event loop that will not drain it: one that ended
        (``asyncio.run`` returned), or the caller's own (closing from inside the loop)."""
        here = _running_loop()
        for lane in list(self._lanes.values()):
            loop = lane.loop
            if lane.loop_queue and (
                loop is None or loop.is_closed() or not loop.is_running() or loop is here
            ):
                while lane.loop_queue:
                    self._take(lane, lane.loop_queue, None, on_loop=True)

    def close(self, timeout: float = 5.0) -> None:
        """Finish what is queued (within ``timeout``), then stop the workers."""
        if self._closed:
            return
        self.drain(timeout)
        self._closed = True
        for lane in list(self._lanes.values()):
            lane.wake.set()
        deadline = time.monotonic() + timeout
        for lane in list(self._lanes.values()):
            if lane.thread is not None:
                lane.thread.join(max(0.0, deadline - time.monotonic()))
