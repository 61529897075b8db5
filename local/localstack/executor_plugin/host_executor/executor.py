"""LocalStack's side of a host-process execution environment.

LocalStack drives an environment through its executor endpoint: the environment calls back
``<runtime endpoint>/status/<id>/ready`` once started, LocalStack POSTs each invocation to
``http://<address>:<port>/invoke`` and the environment answers through
``/invocations/<request id>/logs`` and ``.../response`` or ``.../error``. In Docker the
runtime-init binary inside the container does the environment's part; here it is
``local/localstack/shim.py``, started with the project's Python (``HOST_EXECUTOR_PYTHON``) in
its own process group, on a loopback port of its own. Stopping kills that whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from localstack import config
from localstack.services.lambda_.invocation.executor_endpoint import ExecutorEndpoint
from localstack.services.lambda_.invocation.lambda_models import FunctionVersion, InvocationResult
from localstack.services.lambda_.invocation.runtime_executor import RuntimeExecutor
from localstack.utils.net import get_free_tcp_port

LOOPBACK = "127.0.0.1"


def _setting(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"{name} is not set: start LocalStack with local/localstack/launcher.py")
    return value


class HostProcessRuntimeExecutor(RuntimeExecutor):
    def __init__(self, id: str, function_version: FunctionVersion) -> None:
        super().__init__(id=id, function_version=function_version)
        self.port = get_free_tcp_port()
        self.executor_endpoint = ExecutorEndpoint(id, container_address=LOOPBACK, container_port=self.port)
        self.proc: subprocess.Popen | None = None
        self.log_path = Path(_setting("HOST_EXECUTOR_LOG_DIR")) / f"{function_version.id.function_name}-{id}.log"

    def start(self, env_vars: dict[str, str]) -> None:
        self.executor_endpoint.start()
        code_dir = str(self.function_version.config.code.get_unzipped_code_location())
        repo = _setting("HOST_EXECUTOR_REPO")
        env = {key: str(value) for key, value in env_vars.items()}
        env.update(
            PATH=os.environ.get("PATH", ""),
            PYTHONPATH=repo,
            TMPDIR=os.environ.get("TMPDIR", "/tmp"),
            LAMBDA_TASK_ROOT=code_dir,
            HOST_EXECUTOR_PORT=str(self.port),
        )
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [_setting("HOST_EXECUTOR_PYTHON"), "-m", "local.localstack.shim", code_dir],
                env=env,
                cwd=repo,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group: stop() kills it and its worker
            )
        self.executor_endpoint.wait_for_startup()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                deadline = time.monotonic() + wait
                while self.proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.05)
                if self.proc.poll() is not None:
                    break
        try:
            self.executor_endpoint.shutdown()
        except Exception:  # already shut down (startup timeout)
            pass

    def get_address(self) -> str:
        return LOOPBACK

    def get_endpoint_from_executor(self) -> str:
        return LOOPBACK

    def get_runtime_endpoint(self) -> str:
        port = config.GATEWAY_LISTEN[0].port
        return f"http://{LOOPBACK}:{port}{self.executor_endpoint.get_endpoint_prefix()}"

    def invoke(self, payload: dict[str, str]) -> InvocationResult:
        return self.executor_endpoint.invoke(payload)

    def get_logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    @classmethod
    def prepare_version(cls, function_version: FunctionVersion) -> None:
        if function_version.config.code:
            function_version.config.code.prepare_for_execution()  # unzips the deployment package

    @classmethod
    def cleanup_version(cls, function_version: FunctionVersion) -> None:
        pass

    @classmethod
    def validate_environment(cls) -> bool:
        return bool(os.environ.get("HOST_EXECUTOR_PYTHON") and os.environ.get("HOST_EXECUTOR_REPO"))
