"""One write lock per DynamoDB table and per S3 bucket, shared by every request thread.

Conditional writes (``dynamodb_fidelity``, ``s3_fidelity``) and TTL deletes (``ttl``) hold
them so that a check and the write it guards are one step, as on AWS.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator

_WRITE_LOCKS: dict[tuple[str, ...], threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def write_locks(names: Iterable[tuple[str, ...]]) -> Iterator[None]:
    """Hold the write lock of each name (a table, a bucket), made on first use. Several are
    taken in sorted order, so two requests locking overlapping sets never deadlock."""
    with _WRITE_LOCKS_GUARD:
        locks = [_WRITE_LOCKS.setdefault(name, threading.Lock()) for name in sorted(set(names))]
    with contextlib.ExitStack() as held:
        for lock in locks:
            held.enter_context(lock)
        yield
