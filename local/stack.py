"""The whole local loop: embedded emulator -> terraform apply (real root) -> local runner."""

from __future__ import annotations

import dataclasses
import os
import shutil
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local import progress as progress_apply
from local import terraform, variant
from local.emulator import Emulator
from local.runner import LocalLambdaRunner

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Stack:
    emulator: Emulator
    runner: LocalLambdaRunner
    outputs: dict[str, Any]
    apply_seconds: float
    queue_type: str = "standard"
    variants: dict[str, dict[str, Any]] = field(default_factory=dict)  # queue type -> the variant root's outputs
    scenarios: dict[str, Any] = field(default_factory=dict)  # shared by every view (tests/harness/dead_letters.py)

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    def view(self, queue_type: str) -> Stack:
        """The same deployment seen through one sticky queue type (its sticky outputs and bucket)."""
        if queue_type == self.queue_type:
            return self
        overrides = self.variants[queue_type]
        return dataclasses.replace(self, outputs={**self.outputs, **overrides}, queue_type=queue_type)

    def stop(self) -> None:
        self.runner.stop()
        self.emulator.stop()


def apply_in_thread(results: dict[str, Any], key: str, apply: Any, *args: Any, **kwargs: Any) -> threading.Thread:
    """Run ``apply(*args, **kwargs)`` in a thread; its outputs, or its exception, land in ``results[key]``."""

    def target() -> None:
        try:
            results[key] = apply(*args, **kwargs)
        except BaseException as exc:  # re-raised by the caller
            results[key] = exc

    thread = threading.Thread(target=target, name=f"apply-{key}", daemon=True)
    thread.start()
    return thread


def start(
    extra_vars: dict[str, str] | None = None,
    fifo_variant: bool = False,
    port: int | None = None,
    progress: progress_apply.Progress | None = None,
    log_path: Path | None = None,
) -> Stack:
    """Emulator, apply (and the FIFO sticky variant beside it, if asked), then the runner.

    With ``progress``, the main apply reports each resource applied and logs to ``log_path``
    (and runs in this thread, so Ctrl-C stops it); nothing is left behind if it fails.
    """
    emulator = Emulator(port=port).start()
    venv_bin = Path(sys.executable).parent
    env = {**emulator.env(), "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not Path(os.environ.get("TF_CLI_CONFIG_FILE", "/nonexistent")).exists():
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    state_dir = Path(tempfile.mkdtemp(prefix="tfstate-"))
    started = time.time()
    results: dict[str, Any] = {}
    try:
        terraform.generate()
        threads = []
        if fifo_variant:
            fifo_state = state_dir / "fifo.tfstate"
            threads.append(apply_in_thread(results, "fifo", variant.apply, env, fifo_state, extra_vars=extra_vars))
        main_state = state_dir / "local.tfstate"
        if progress is not None:
            log = log_path or REPO / ".build" / "apply.log"
            results["main"] = progress_apply.apply(env, main_state, log, progress, extra_vars=extra_vars)
        else:
            threads.append(apply_in_thread(results, "main", terraform.apply, env, main_state, extra_vars=extra_vars))
        for thread in threads:
            thread.join()
        for value in results.values():
            if isinstance(value, BaseException):
                raise value
    except BaseException:
        emulator.stop()
        raise
    finally:
        shutil.rmtree(state_dir, ignore_errors=True)
    apply_seconds = time.time() - started
    runner = LocalLambdaRunner(
        endpoint=emulator.endpoint,
        region=emulator.region,
        code_fetcher=emulator.function_code,
        run_as_roles=emulator.iam.mode != "off",  # IAM=off: everything runs with the emulator's keys, unchecked
    )
    runner.start()
    emulator.invoke_handler = runner.handle_invoke
    emulator.sns_handler = runner.deliver_sns
    emulator.code_updated = runner.reload
    variants = {"fifo": results["fifo"]} if fifo_variant else {}
    return Stack(emulator, runner, results["main"], apply_seconds, variants=variants)
