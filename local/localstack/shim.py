"""One LocalStack execution environment on the host: what runtime-init does in a container.

Started by the ``host-process`` runtime executor (``executor_plugin/``) with the environment
LocalStack computed for the function, in the deployed package's unzipped folder (argv[1]).
It runs the function in the local runner's worker (``local.runner.worker.Worker``: one
process per environment, the handler imported once, timeouts enforced, a timed-out worker
replaced) and speaks LocalStack's callback protocol:

* ``POST <LOCALSTACK_RUNTIME_ENDPOINT>/status/<LOCALSTACK_RUNTIME_ID>/ready`` (or ``/error``);
* serves ``POST /invoke`` on ``127.0.0.1:<HOST_EXECUTOR_PORT>`` with LocalStack's payload
  (``invoke-id``, ``invoked-function-arn``, ``payload``, ``trace-id``), answers 202 at once,
  then posts the invocation's log lines to ``/invocations/<id>/logs`` and the result to
  ``/invocations/<id>/response`` or ``/invocations/<id>/error``.
The process exits when LocalStack (its parent) is gone.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.runner.pool import FunctionSpec
from local.runner.worker import Worker

LOOPBACK = "127.0.0.1"
PRIVATE = ("HOST_EXECUTOR_PORT", "PYTHONPATH")  # the shim's own; the function sees its package only


def post(url: str, body: bytes) -> None:
    request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "application/json"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    with opener.open(request, timeout=30) as response:
        response.read()


class Environment:
    def __init__(self, code_dir: Path) -> None:
        env = dict(os.environ)
        self.callback = env["LOCALSTACK_RUNTIME_ENDPOINT"]
        self.runtime_id = env["LOCALSTACK_RUNTIME_ID"]
        self.port = int(env["HOST_EXECUTOR_PORT"])
        self.code_dir = code_dir
        self.base_env = {k: v for k, v in env.items() if k not in PRIVATE}
        name = env["AWS_LAMBDA_FUNCTION_NAME"]
        self.spec = FunctionSpec(
            name=name,
            arn="",
            handler=env["_HANDLER"],
            timeout=int(env.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3")),
            memory=int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")),
            environment={},
            concurrency=1,
            log_group=env.get("AWS_LAMBDA_LOG_GROUP_NAME", f"/aws/lambda/{name}"),
        )
        self.log_file = Path(env.get("TMPDIR", "/tmp")) / f"lambda-{self.runtime_id}.log"
        self.worker: Worker | None = None
        self.lock = threading.Lock()

    def _worker(self) -> Worker:
        if self.worker is None or not self.worker.alive:
            self.worker = Worker(self.spec, self.code_dir, self.base_env, self.log_file)
        return self.worker

    def start(self) -> None:
        try:
            self._worker()
        except Exception as exc:
            error = {"errorType": "Runtime.Unknown", "errorMessage": str(exc)}
            post(f"{self.callback}/status/{self.runtime_id}/error", json.dumps(error).encode())
            raise
        post(f"{self.callback}/status/{self.runtime_id}/ready", b"{}")

    def invoke(self, request: dict[str, Any]) -> None:
        request_id = request["invoke-id"]
        with self.lock:  # LocalStack sends one invocation at a time per environment
            self.spec.arn = request["invoked-function-arn"]
            os.environ["_X_AMZN_TRACE_ID"] = request.get("trace-id") or ""
            offset = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                result = self._worker().invoke(json.loads(request["payload"] or "null"))
            except Exception as exc:  # the worker could not be (re)started
                from local.runner.worker import InvocationResult

                result = InvocationResult(False, error={"errorType": "Runtime.ExitError", "errorMessage": str(exc)})
            with open(self.log_file, "rb") as f:
                f.seek(offset)
                logs = f.read().decode(errors="replace")
        base = f"{self.callback}/invocations/{request_id}"
        post(f"{base}/logs", json.dumps({"logs": logs}).encode())
        if result.ok:
            post(f"{base}/response", json.dumps(result.payload).encode())
        else:
            post(f"{base}/error", json.dumps(result.error).encode())

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.kill()


def serve(environment: Environment) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if self.path != "/invoke":
                self.send_response(404)
                self.end_headers()
                return
            request = json.loads(body)
            self.send_response(202)
            self.end_headers()
            threading.Thread(target=environment.invoke, args=(request,), daemon=True).start()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((LOOPBACK, environment.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parent = os.getppid()
    environment = Environment(Path(sys.argv[1]))
    server = serve(environment)
    try:
        environment.start()
        while os.getppid() == parent:  # LocalStack gone (even by SIGKILL): so are we
            time.sleep(1)
    finally:
        server.shutdown()
        environment.stop()


if __name__ == "__main__":
    main()
