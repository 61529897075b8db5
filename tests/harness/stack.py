"""The whole local loop: embedded emulator -> terraform apply (real root) -> local runner."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from tests.harness import terraform
from tests.harness.emulator import Emulator
from tests.harness.runner import LocalLambdaRunner

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Stack:
    emulator: Emulator
    runner: LocalLambdaRunner
    outputs: dict[str, Any]
    apply_seconds: float

    def client(self, service: str) -> Any:
        env = self.emulator.env()
        return boto3.client(
            service,
            endpoint_url=env["AWS_ENDPOINT_URL"],
            region_name=env["AWS_REGION"],
            aws_access_key_id="test",
            aws_secret_access_key="test",
            aws_session_token="test",
        )

    def stop(self) -> None:
        self.runner.stop()
        self.emulator.stop()


def start(extra_vars: dict[str, str] | None = None) -> Stack:
    emulator = Emulator().start()
    venv_bin = Path(sys.executable).parent
    env = {**emulator.env(), "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not Path(os.environ.get("TF_CLI_CONFIG_FILE", "/nonexistent")).exists():
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    state_dir = Path(tempfile.mkdtemp(prefix="tfstate-"))
    started = time.time()
    try:
        outputs = terraform.apply(env, state_dir / "local.tfstate", extra_vars=extra_vars)
    except Exception:
        emulator.stop()
        raise
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    apply_seconds = time.time() - started
    runner = LocalLambdaRunner(endpoint=emulator.endpoint, region=emulator.region, code_fetcher=emulator.function_code)
    runner.start()
    emulator.invoke_handler = runner.handle_invoke
    emulator.sns_handler = runner.deliver_sns
    return Stack(emulator, runner, outputs, apply_seconds)
