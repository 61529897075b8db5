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
    state_dir: Path | None = None  # the main root's state, kept for reapply (start(keep_state=True))
    extra_vars: dict[str, str] = field(default_factory=dict)  # what the main root was applied with

    def client(self, service: str) -> Any:
        return self.emulator.client(service)

    def view(self, queue_type: str) -> Stack:
        """The same deployment seen through one sticky queue type (its sticky outputs and bucket)."""
        if queue_type == self.queue_type:
            return self
        overrides = self.variants[queue_type]
        return dataclasses.replace(self, outputs={**self.outputs, **overrides}, queue_type=queue_type)

    def reapply(self, extra_vars: dict[str, str]) -> dict[str, Any]:
        """Apply the main root again over its state, with ``extra_vars`` over the ones it was
        applied with: what an operator's apply of a changed setting does. A new runner then
        serves what the apply changed (functions, their environments, queue triggers); the
        old one finishes the invocations it started and stops."""
        if self.state_dir is None:
            raise RuntimeError("this stack did not keep its Terraform state: start it with keep_state=True")
        self.extra_vars = {**self.extra_vars, **extra_vars}
        started = time.time()
        self.outputs = terraform.apply(
            terraform_env(self.emulator), self.state_dir / MAIN_STATE, extra_vars=self.extra_vars
        )
        self.apply_seconds = time.time() - started
        old, self.runner = self.runner, start_runner(self.emulator)
        while any(old.pending(name) for name in list(old.pools)):  # asynchronous events it accepted
            time.sleep(0.2)
        old.stop()
        return self.outputs

    def stop(self) -> None:
        self.runner.stop()
        self.emulator.stop()
        if self.state_dir is not None:
            shutil.rmtree(self.state_dir, ignore_errors=True)


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


MAIN_STATE = "local.tfstate"


def terraform_env(emulator: Emulator) -> dict[str, str]:
    venv_bin = Path(sys.executable).parent
    env = {**emulator.env(), "PATH": f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"}
    if not Path(os.environ.get("TF_CLI_CONFIG_FILE", "/nonexistent")).exists():
        env["TF_CLI_CONFIG_FILE"] = os.devnull
    return env


def start_runner(emulator: Emulator) -> LocalLambdaRunner:
    """A runner for what is deployed on ``emulator`` now, answering its Lambda invocations."""
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
    return runner


def start(
    extra_vars: dict[str, str] | None = None,
    fifo_variant: bool = False,
    port: int | None = None,
    progress: progress_apply.Progress | None = None,
    log_path: Path | None = None,
    keep_state: bool = False,
) -> Stack:
    """Emulator, apply (and the FIFO sticky variant beside it, if asked), then the runner.

    With ``progress``, the main apply reports each resource applied and logs to ``log_path``
    (and runs in this thread, so Ctrl-C stops it); nothing is left behind if it fails. With
    ``keep_state``, the main root's state stays until ``stop()``, for ``Stack.reapply``.
    """
    emulator = Emulator(port=port).start()
    env = terraform_env(emulator)
    state_dir = Path(tempfile.mkdtemp(prefix="tfstate-"))
    started = time.time()
    results: dict[str, Any] = {}
    try:
        terraform.generate()
        threads = []
        if fifo_variant:
            fifo_state = state_dir / "fifo.tfstate"
            threads.append(apply_in_thread(results, "fifo", variant.apply, env, fifo_state, extra_vars=extra_vars))
        main_state = state_dir / MAIN_STATE
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
        shutil.rmtree(state_dir, ignore_errors=True)
        raise
    if not keep_state:
        shutil.rmtree(state_dir, ignore_errors=True)
    apply_seconds = time.time() - started
    runner = start_runner(emulator)
    variants = {"fifo": results["fifo"]} if fifo_variant else {}
    kept = state_dir if keep_state else None
    return Stack(
        emulator, runner, results["main"], apply_seconds, variants=variants, state_dir=kept, extra_vars=extra_vars or {}
    )
