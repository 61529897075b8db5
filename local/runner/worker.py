"""One function process: the python3.12 runtime running a handler, one invocation at a time.

A worker starts ``local/bootstrap.py`` with the function's unpacked zip and exactly the
environment Lambda gives it, sends each event as one JSON line and reads the answer as one,
and writes the ``platform.report`` line Lambda writes after each invocation.
"""

from __future__ import annotations

import json
import select
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from local.runner.pool import FunctionSpec
    from local.runner.roles import RoleCredentials

BOOTSTRAP = Path(__file__).resolve().parents[1] / "bootstrap.py"
# A worker is the python3.12 runtime: the function's zip and the standard library, nothing else
# (-I: no PYTHON* variables, no script folder on sys.path; -S: no site-packages; -B: no .pyc
# written, the task root being read-only on AWS; -u: unbuffered, as PYTHONUNBUFFERED would be).
RUNTIME_FLAGS = ["-I", "-S", "-B", "-u"]


def runtime_python() -> str:
    """The interpreter workers run on: Python 3.12, the runtime's version."""
    if sys.version_info[:2] == (3, 12):
        return sys.executable
    found = shutil.which("python3.12")
    if not found:
        raise RuntimeError("the local runner needs python3.12 (the Lambda runtime's version) on PATH")
    return found


@dataclass
class InvocationResult:
    ok: bool
    payload: Any = None
    error: dict[str, Any] | None = None
    usage: dict[str, Any] | None = None  # AWS calls the invocation made (bootstrap counts them)


def utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"


def trace_header() -> str:
    """An X-Ray trace header as the Lambda runtime sets it; not sampled, so nothing is sent."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class Worker:
    def __init__(
        self,
        spec: FunctionSpec,
        code_dir: Path,
        base_env: dict[str, str],
        log_file: Path,
        credentials: RoleCredentials | None = None,
    ) -> None:
        self.credentials = credentials
        env = {
            **base_env,
            **(credentials.env() if credentials else {}),
            **spec.environment,
            "AWS_LAMBDA_FUNCTION_NAME": spec.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory),
            "AWS_LAMBDA_LOG_GROUP_NAME": spec.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": f"local/{uuid.uuid4().hex}",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python_local",
            "LAMBDA_TASK_ROOT": str(code_dir),
            "_HANDLER": spec.handler,
            "PYTHONUNBUFFERED": "1",
        }
        self.spec = spec
        self._log = open(log_file, "ab")
        self.proc = subprocess.Popen(
            [runtime_python(), *RUNTIME_FLAGS, str(BOOTSTRAP), str(code_dir), spec.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env=env,
            cwd=code_dir,
        )
        ready = self._read_line(timeout=60)  # init phase has its own (10 s in AWS) budget
        if ready is None:
            self.kill()
            raise RuntimeError(f"{spec.name}: worker did not start")

    def _read_line(self, timeout: float) -> dict | None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.proc.stdout.readline()
        return json.loads(line) if line else None

    def invoke(self, event: Any) -> InvocationResult:
        assert self.proc.stdin is not None
        request = {
            "event": event,
            "request_id": str(uuid.uuid4()),
            "function_arn": self.spec.arn,
            "deadline": time.time() + self.spec.timeout,
            "trace_id": trace_header(),
        }
        try:
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
        except BrokenPipeError:
            message = f"RequestId: {request['request_id']} Error: Runtime exited without providing a reason"
            return InvocationResult(False, error={"errorType": "Runtime.ExitError", "errorMessage": message})
        started = time.monotonic()
        answer = self._read_line(timeout=self.spec.timeout)
        self._report(request["request_id"], started, timed_out=answer is None)
        if answer is None:
            self.kill()
            message = f"RequestId: {request['request_id']} Error: Task timed out after {self.spec.timeout:.2f} seconds"
            return InvocationResult(False, error={"errorType": "Sandbox.Timedout", "errorMessage": message})
        if "error" in answer:
            error = {**answer["error"], "requestId": request["request_id"]}
            if "stackTrace" in answer["error"]:  # the Python runtime's key order
                error["stackTrace"] = error.pop("stackTrace")
            return InvocationResult(False, error=error, usage=answer.get("usage"))
        return InvocationResult(True, payload=answer["payload"], usage=answer.get("usage"))

    def _report(self, request_id: str, started: float, timed_out: bool) -> None:
        """The platform.report line Lambda writes after each invocation in the JSON log format
        (durations for tuning timeouts); every line of a function's log is JSON."""
        duration = (time.monotonic() - started) * 1000
        record = {
            "requestId": request_id,
            "metrics": {
                "durationMs": round(duration, 2),
                "billedDurationMs": int(duration) + 1,
                "memorySizeMB": self.spec.memory,
            },
            "status": "timeout" if timed_out else "success",
        }
        self._log.write((json.dumps({"time": utc_now(), "type": "platform.report", "record": record}) + "\n").encode())
        self._log.flush()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()
