"""The runner's background threads (pollers, clock, async invokers, log shipper): started as
daemons, sharing one stop signal, joined together when the runner stops."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any


class Threads:
    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def spawn(self, target: Callable, *args: Any, name: str) -> None:
        t = threading.Thread(target=target, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def stop(self, timeout: float = 10) -> None:
        self.stopping.set()
        for t in self._threads:
            t.join(timeout=timeout)
