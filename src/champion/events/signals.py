"""Flush event writers when the process is asked to stop (SIGTERM from Kubernetes, systemd).

Writers install nothing global themselves; the program that owns the process calls
:func:`flush_on_sigterm` once, from its main thread.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from types import FrameType
from typing import Protocol

__all__ = ["flush_on_sigterm"]

logger = logging.getLogger("champion.events")


class _Closable(Protocol):
    def close(self, timeout: float | None = ...) -> None: ...


def flush_on_sigterm(*writers: _Closable, timeout: float = 10.0) -> Callable[[], None]:
    """On SIGTERM close (flush) the writers, then do what SIGTERM did before.

    A handler installed earlier is called next; with none, the process exits by SIGTERM
    as it would have. Each writer gets at most ``timeout`` seconds. Returns a function
    that puts the previous handler back.

    >>> restore = flush_on_sigterm()
    >>> restore()
    """
    previous = signal.getsignal(signal.SIGTERM)

    def _on_sigterm(signum: int, frame: FrameType | None) -> None:
        for writer in writers:
            try:
                writer.close(timeout=timeout)
            except Exception:
                logger.exception("flushing an event writer on SIGTERM")
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _on_sigterm)

    def restore() -> None:
        signal.signal(signal.SIGTERM, previous)

    return restore
