"""Log shipping: each function's log file copied, line by line as it grows, to its CloudWatch
Logs group on the emulator (one stream per run), so ``aws logs tail /aws/lambda/<name>``
works as on AWS."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any

from local.runner.pool import FunctionPool

log = logging.getLogger("local-runner")
BATCH = 1000  # log events per PutLogEvents


def ship_logs(logs: Any, pools: Mapping[str, FunctionPool], stopping: threading.Event, every: float) -> None:
    """Every ``every`` seconds, ship the whole lines written since the last round, until ``stopping``."""
    stream = time.strftime("%Y/%m/%d/[$LATEST]") + uuid.uuid4().hex
    offsets = {name: pool.log_file.stat().st_size if pool.log_file.exists() else 0 for name, pool in pools.items()}
    created: set[str] = set()
    while not stopping.wait(every):
        for name, pool in list(pools.items()):
            try:
                with open(pool.log_file, "rb") as f:
                    f.seek(offsets.get(name, 0))
                    data = f.read()
                complete = data[: data.rfind(b"\n") + 1]  # whole lines only
                offsets[name] = offsets.get(name, 0) + len(complete)
                lines = [line for line in complete.decode(errors="replace").splitlines() if line.strip()]
                if not lines:
                    continue
                if name not in created:
                    _create(logs, pool.spec.log_group, stream)
                    created.add(name)
                now = int(time.time() * 1000)
                for start in range(0, len(lines), BATCH):
                    logs.put_log_events(
                        logGroupName=pool.spec.log_group,
                        logStreamName=stream,
                        logEvents=[{"timestamp": now, "message": line} for line in lines[start : start + BATCH]],
                    )
            except FileNotFoundError:
                continue
            except Exception:
                if not stopping.is_set():
                    log.exception("shipping %s's logs", name)


def _create(logs: Any, group: str, stream: str) -> None:
    """The function's log group and this run's stream, unless they exist."""
    try:
        logs.create_log_group(logGroupName=group)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
    try:
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    except logs.exceptions.ResourceAlreadyExistsException:
        pass
