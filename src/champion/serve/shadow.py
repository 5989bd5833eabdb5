"""Shadow calls off the hot path: bounded, timed out, logged, never awaited by the caller.

Every shadow call runs on one background event loop owned by the runner, and sync models run
on the runner's own thread pool, so a slow or hung shadow can never occupy the threads that
serve the champion. Concurrency is bounded by a semaphore whose slot is released only when
the call really ends: past the bound, new shadow calls are dropped and counted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
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

    def as_dict(self) -> dict[str, int]:
        return {k: getattr(self, k) for k in self.__slots__}


def _timed(predict: Callable[[dict], Any], features: dict) -> tuple[Any, float]:
    start = time.perf_counter()
    prediction = predict(features)
    return prediction, (time.perf_counter() - start) * 1000.0


class ShadowRunner:
    """Runs shadow predictions in the background; ``submit`` returns at once."""

    def __init__(
        self,
        on_result: Callable[[ShadowOutcome], None],
        *,
        max_concurrency: int = 64,
    ) -> None:
        self._on_result = on_result
        self.stats = ShadowStats()
        self._lock = threading.Lock()
        self._pending = 0
        self._slots = threading.BoundedSemaphore(max_concurrency)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_concurrency, thread_name_prefix="champion-shadow"
        )
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="champion-shadow-loop", daemon=True
        )
        self._thread.start()
        self._closed = False

    def _count(self, field: str) -> None:
        with self._lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    def submit(
        self,
        adapter: ModelAdapter,
        features: Mapping[str, Any],
        *,
        timeout_ms: float,
        context: Any = None,
    ) -> bool:
        """Queue one shadow call; False (and counted) when every slot is busy or closed."""
        if self._closed or not self._slots.acquire(blocking=False):
            self._count("dropped")
            return False
        self._count("submitted")
        with self._lock:
            self._pending += 1
        try:
            asyncio.run_coroutine_threadsafe(
                self._call(adapter, dict(features), timeout_ms / 1000.0, context), self._loop
            )
        except RuntimeError:  # the loop closed between the check and the call
            self._slots.release()
            with self._lock:
                self._pending -= 1
            self._count("dropped")
            return False
        return True

    async def _call(
        self, adapter: ModelAdapter, features: dict, timeout: float, context: Any
    ) -> None:
        start = time.perf_counter()
        prediction: Any = None
        error: str | None = None
        took: float | None = None  # the model's own time, when it ran on the pool
        release_now = True
        try:
            if adapter.is_async:
                prediction = await asyncio.wait_for(adapter.apredict(features), timeout)
            else:
                future = self._pool.submit(_timed, adapter.predict, features)
                # The slot follows the thread: a hung model keeps it until it returns.
                release_now = False
                future.add_done_callback(lambda _f: self._slots.release())
                prediction, took = await asyncio.wait_for(
                    asyncio.shield(asyncio.wrap_future(future)), timeout
                )
        except TimeoutError:
            error = f"timeout after {timeout * 1000:g} ms"
            self._count("timeouts")
        except Exception as e:
            error = f"{type(e).__name__}: {e}"
            self._count("errors")
        finally:
            if release_now:
                self._slots.release()
        # Queueing on a busy host is not the model's latency; a timeout is the time waited.
        latency_ms = took if took is not None else (time.perf_counter() - start) * 1000.0
        if error is None:
            self._count("completed")
        outcome = ShadowOutcome(adapter.name, prediction, latency_ms, error, context)
        try:
            self._on_result(outcome)
        except Exception:  # a logging failure must not kill the loop
            self._count("errors")
        finally:
            with self._lock:
                self._pending -= 1

    def in_flight(self) -> int:
        """Shadow calls submitted whose result has not been handed on yet."""
        with self._lock:
            return self._pending

    def drain(self, timeout: float = 5.0) -> bool:
        """Wait until every submitted call has been logged (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self.in_flight() and time.monotonic() < deadline:
            time.sleep(0.005)
        return self.in_flight() == 0

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self.drain(timeout)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if not self._loop.is_running():
            self._loop.close()
