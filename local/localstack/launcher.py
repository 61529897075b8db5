"""Host-mode LocalStack (no Docker): one private instance per ``start()``, loopback only.

Each instance gets its own folder under ``.build/localstack/instances/<port>`` (LocalStack's
filesystem root, TMPDIR, HOME, logs): when LocalStack believes it runs in a container it
writes to fixed container folders, and two instances sharing them wipe each other's state,
so we tell it it is on a host (``OVERRIDE_IN_DOCKER=0``) and give it a root of its own.
Everything listens on 127.0.0.1 only: the gateway (``GATEWAY_LISTEN``), no DNS server
(``DNS_ADDRESS=0``), DynamoDB Local through the loopback java wrapper (install.py), each
function's environment (the executor). Queue URLs are ``http://127.0.0.1:<port>/<account>/<name>``
(``SQS_ENDPOINT_STRATEGY=off``): terraform's aws provider rejects path-style ``/queue/<region>/...``
URLs ("SQS Queue URL ... is in the incorrect format") and there is no DNS for the domain styles.
Lambda functions run through our ``host-process`` runtime executor only: a LocalStack whose
event source mappings poll without a working executor dead-letters every message, so
``start()`` refuses to return an instance whose executor plugin is not installed.
``stop()`` ends the whole process group: SIGTERM, then SIGKILL after ``grace`` seconds.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from local.localstack import install

REGION = "us-east-1"
SERVICES = "cloudwatch,dynamodb,events,iam,kms,lambda,logs,s3,scheduler,sns,sqs,sts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 2.0) -> dict:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as response:
        return json.loads(response.read() or b"{}")


@dataclass
class LocalStack:
    port: int = field(default_factory=free_port)
    grace: float = 10.0
    startup_timeout: float = 120.0
    proc: subprocess.Popen | None = None
    start_seconds: float = 0.0

    @property
    def root(self) -> Path:
        return install.BUILD / "instances" / str(self.port)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_file(self) -> Path:
        return self.root / "localstack.log"

    def env(self) -> dict[str, str]:
        """What a client (boto3, terraform, the scenarios) needs to talk to this instance."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
        }

    def _process_env(self) -> dict[str, str]:
        fs, tmp = self.root / "fs", self.root / "tmp"
        libs = fs / "var/lib/localstack/lib"
        for path in (tmp, self.root / "home", self.root / "functions", libs / "java", libs / "dynamodb-local"):
            path.mkdir(parents=True, exist_ok=True)
        links = {libs / "java/21": install.java_home(), libs / "dynamodb-local/2": install.BUILD / "dynamodb-local"}
        for link, target in links.items():
            if not link.is_symlink():
                link.symlink_to(target)
        return {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(self.root / "home"),
            "TMPDIR": str(tmp),
            "LANG": "C.UTF-8",
            # where and how it listens
            "GATEWAY_LISTEN": f"127.0.0.1:{self.port}",
            "LOCALSTACK_HOST": f"127.0.0.1:{self.port}",
            "DNS_ADDRESS": "0",
            "SQS_ENDPOINT_STRATEGY": "off",  # <host>/<account>/<name>: the aws provider rejects "path" URLs
            # a host, with a filesystem of its own; nothing fetched from the internet
            "OVERRIDE_IN_DOCKER": "0",
            "FILESYSTEM_ROOT": str(fs),
            "SKIP_SSL_CERT_DOWNLOAD": "1",
            "DISABLE_EVENTS": "1",
            "SERVICES": SERVICES,
            "DYNAMODB_IN_MEMORY": "1",
            # AWS's clock: SQS deletes messages past the queue's retention period (LocalStack
            # keeps them unless asked), DynamoDB deletes expired items (LocalStack: at start, then
            # hourly; a scenario asks at once through DELETE /_aws/dynamodb/expired, local/targets.py)
            "SQS_ENABLE_MESSAGE_RETENTION_PERIOD": "1",
            "DYNAMODB_REMOVE_EXPIRED_ITEMS": "1",
            # Lambda: our executor, the project's Python running the deployed packages
            "LAMBDA_RUNTIME_EXECUTOR": "host-process",
            "HOST_EXECUTOR_PYTHON": sys.executable,
            "HOST_EXECUTOR_REPO": str(install.REPO),
            "HOST_EXECUTOR_LOG_DIR": str(self.root / "functions"),
        }

    def _executor_installed(self) -> bool:
        probe = (
            "from importlib.metadata import entry_points; "
            "print('host-process' in {e.name for e in entry_points(group='localstack.lambda.runtime_executor')})"
        )
        out = subprocess.run([str(install.venv_python()), "-c", probe], capture_output=True, text=True)
        return out.stdout.strip() == "True"

    def start(self) -> LocalStack:
        install.ensure_installed()
        if not self._executor_installed():
            raise RuntimeError("the host-process runtime executor is not installed: LocalStack would dead-letter")
        if self.root.exists():
            shutil.rmtree(self.root)
        env = self._process_env()
        started = time.monotonic()
        with open(self.log_file, "ab") as log:
            self.proc = subprocess.Popen(
                [str(install.venv_python()), "-m", "localstack.runtime.main"],
                env=env,
                cwd=self.root,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = started + self.startup_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"LocalStack exited ({self.proc.returncode}); see {self.log_file}")
            try:
                _get(f"{self.endpoint}/_localstack/health")
                self.start_seconds = time.monotonic() - started
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"LocalStack did not answer within {self.startup_timeout:.0f} s; see {self.log_file}")

    def health(self) -> dict:
        return _get(f"{self.endpoint}/_localstack/health")

    def reset(self) -> None:
        """Drop every resource of every service (LocalStack's state reset)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.endpoint}/_localstack/state/reset", method="POST")
        with opener.open(request, timeout=60) as response:
            response.read()

    def listening(self) -> list[str]:
        """Every TCP listen address of this instance's processes (LocalStack, Java, functions)."""
        pids = {str(p) for p in self.pids()}
        out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True).stdout
        found = []
        for line in out.splitlines():
            if any(f"pid={pid}," in line for pid in pids):
                found.append(line.split()[3])
        return found

    def pids(self) -> list[int]:
        """This instance's processes: its process group and every function environment's group."""
        if self.proc is None:
            return []
        marker = f"HOST_EXECUTOR_LOG_DIR={self.root / 'functions'}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                if os.getpgid(int(entry.name)) == self.proc.pid or marker in (entry / "environ").read_bytes():
                    found.append(int(entry.name))
            except (OSError, ProcessLookupError):
                continue
        return found

    def stop(self) -> None:
        if self.proc is None:
            return
        groups = {os.getpgid(p) for p in self.pids() if _alive(p)} | {self.proc.pid}
        for sig, wait in ((signal.SIGTERM, self.grace), (signal.SIGKILL, 10.0)):
            for group in groups:
                try:
                    os.killpg(group, sig)
                except ProcessLookupError:
                    pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and any(_group_alive(g) for g in groups):
                self.proc.poll()  # reap our child: a zombie leader would keep its group "alive"
                time.sleep(0.1)
            if not any(_group_alive(g) for g in groups):
                break
        self.proc.wait(timeout=5)
        self.proc = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def main() -> None:
    """``python -m local.localstack.launcher``: run one instance until interrupted."""
    instance = LocalStack(port=int(os.environ.get("LOCALSTACK_PORT", "4566"))).start()
    pidfile = install.BUILD / "launcher.pid"
    pidfile.write_text(str(os.getpid()))
    version, took = install.LOCALSTACK_VERSION, instance.start_seconds
    print(f"LocalStack {version} (host mode) at {instance.endpoint}, up in {took:.1f} s", flush=True)
    try:
        signal.sigwait({signal.SIGINT, signal.SIGTERM})
    finally:
        instance.stop()
        pidfile.unlink(missing_ok=True)


if __name__ == "__main__":
    main()
