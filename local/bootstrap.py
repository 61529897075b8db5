"""Runtime inside one local Lambda worker process (started by local/runner/worker.py).

argv: <code dir> <handler module.function>. Reads one JSON request per line on stdin,
answers one JSON line on a private copy of stdout; everything the function prints (logs,
EMF metrics) goes to stderr, which the runner writes to the function's log file. An unhandled
error is logged there as one JSON line (Lambda's JSON log format), not a multi-line traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
from typing import Any


class Context:
    def __init__(self, request: dict) -> None:
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = request["function_arn"]
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        self.aws_request_id = request["request_id"]
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        self._deadline = request["deadline"]

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def error_shape(exc: BaseException) -> dict[str, Any]:
    """What the Python runtime returns for an unhandled exception: the function's frames only."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename != __file__]
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "stackTrace": traceback.format_list(frames),
    }


def init_error_shape(exc: BaseException, module_name: str) -> dict[str, Any]:
    """What the Python runtime answers every invoke with when the handler's module failed to load."""
    if isinstance(exc, SyntaxError):
        message, kind = f"Syntax error in module '{module_name}': {exc}", "Runtime.UserCodeSyntaxError"
    elif isinstance(exc, ImportError):
        message, kind = f"Unable to import module '{module_name}': {exc}", "Runtime.ImportModuleError"
    else:
        return error_shape(exc)
    return {"errorMessage": message, "errorType": kind, "stackTrace": []}


def log_error(shape: dict[str, Any], request_id: str) -> None:
    """An unhandled error as the Python runtime logs it in Lambda's JSON log format: one flat line
    (awslambdaric: timestamp, log_level, then errorMessage, errorType, requestId, stackTrace)."""
    line = {
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "log_level": "ERROR",
        "errorMessage": shape["errorMessage"],
        "errorType": shape["errorType"],
        "requestId": request_id,
        "stackTrace": shape.get("stackTrace", []),
    }
    print(json.dumps(line, default=str), file=sys.stderr, flush=True)


def call_counter() -> Any:
    """local/calls.py's CallCounter, loaded by path: the folder of this script is not on sys.path,
    so the function sees only its zip and the standard library, as on the runtime."""
    spec = importlib.util.spec_from_file_location("_local_calls", os.path.join(os.path.dirname(__file__), "calls.py"))
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.CallCounter()


def main() -> None:
    code_dir, handler_spec = sys.argv[1], sys.argv[2]
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    sys.path.insert(0, code_dir)
    os.chdir(code_dir)
    module_name, func_name = handler_spec.rsplit(".", 1)
    counter = call_counter().install()  # wraps the function's own botocore (from its zip)
    try:
        handler = getattr(importlib.import_module(module_name), func_name)
        init_error = None
    except Exception as exc:  # every invoke then fails with it, as in AWS
        handler, init_error = None, init_error_shape(exc, module_name)
    proto.write(json.dumps({"ready": init_error is None}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
        if init_error is not None:
            result: dict[str, Any] = {"error": init_error}
            log_error(init_error, request["request_id"])
        else:
            try:
                result = {"payload": handler(request["event"], Context(request))}
            except Exception as exc:
                result = {"error": error_shape(exc)}
                log_error(result["error"], request["request_id"])
        result["usage"] = counter.take()  # AWS calls of this invocation (for make bench)
        sys.stderr.flush()
        proto.write(json.dumps(result, default=str) + "\n")


if __name__ == "__main__":
    main()
