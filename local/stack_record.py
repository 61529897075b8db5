"""The record of the running local stack: ``.build/local-stack.json``, one per checkout.

`make apply` claims the record before it starts anything, fills it in (endpoint, region,
outputs) once the stack serves, and removes it when it stops. The commands against the running
stack (invoke, logs, deploy, document, queues, redrive) read it, so they need no environment
variables. One record means one stack: a second `make apply`, on any port, is refused while the
recorded one lives, so the commands never reach a stack other than the one the record names.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RECORD = Path(os.environ.get("LOCAL_STACK_RECORD") or REPO / ".build" / "local-stack.json")


class Problem(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except ValueError:
        return {}
    return record if isinstance(record, dict) else {}


def _write(path: Path, record: dict[str, Any]) -> Path:
    """Write ``record`` to a file beside ``path`` that no other process writes; returns it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(record))
    return tmp


def describe(record: dict[str, Any]) -> str:
    where = f" at {record['endpoint']}" if record.get("endpoint") else ", still applying"
    return f"pid {record.get('pid')}{where}"


def claim(path: Path | None = None) -> None:
    """Make this process the one whose stack the record names; Problem if a live one is recorded.

    The claim is a hard link of a complete file, so of two applies started together exactly
    one wins and neither reads a half-written record."""
    path = path or RECORD
    mine = {"pid": os.getpid()}
    tmp = _write(path, mine)
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)
                return
            except FileExistsError:
                other = _read(path)
                if other is None:  # removed meanwhile
                    continue
                pid = other.get("pid")
                if isinstance(pid, int) and alive(pid):
                    raise Problem(
                        f"a local stack is already running ({describe(other)}): use it, or stop it"
                        f" (Ctrl-C in its shell, or kill {pid}) before another `make apply`"
                    ) from None
                _remove_stale(path, other)
        raise Problem(f"cannot claim {path}: another `make apply` is starting; try again")
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale(path: Path, stale: dict[str, Any]) -> None:
    """Remove the record of a process that is gone, unless another apply claimed it meanwhile
    (then that claim is put back, and the next attempt refuses it)."""
    grave = path.with_name(f".{path.name}.{os.getpid()}.stale")
    try:
        os.rename(path, grave)
    except FileNotFoundError:
        return
    if _read(grave) != stale:
        try:
            os.link(grave, path)
        except FileExistsError:
            pass
    grave.unlink(missing_ok=True)


def publish(record: dict[str, Any], path: Path | None = None) -> None:
    """Fill in the claimed record (this process's pid added), in one atomic replace."""
    path = path or RECORD
    os.replace(_write(path, {**record, "pid": os.getpid()}), path)


def release(path: Path | None = None) -> None:
    """Remove the record if this process holds it."""
    path = path or RECORD
    record = _read(path)
    if record is not None and record.get("pid") == os.getpid():
        path.unlink(missing_ok=True)


def running(path: Path | None = None) -> dict[str, Any]:
    """The record of the live, serving stack; Problem (one line: what to do) otherwise."""
    path = path or RECORD
    record = _read(path)
    if record is None:
        raise Problem("no local stack is running: start one with `make apply` (in another shell)")
    pid = record.get("pid")
    if not (isinstance(pid, int) and alive(pid)):
        path.unlink(missing_ok=True)
        raise Problem("the local stack has stopped: start it again with `make apply`")
    if "endpoint" not in record:
        raise Problem(f"the local stack (pid {pid}) is still applying: wait for its summary, then try again")
    return record
