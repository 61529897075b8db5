"""`terraform apply` of the real root with a progress line instead of silence.

Terraform runs with ``-json``: every machine-readable message goes to a log file, and the
plan's change summary plus one ``apply_complete`` per resource give "created N / total".
Terraform runs in its own session, so Ctrl-C reaches only us: we then interrupt it, wait for
it to stop, and re-raise KeyboardInterrupt for the caller to clean up quietly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO

from local import terraform

Progress = Callable[[int, int, str], None]  # (applied, total, resource address)


def bar(applied: int, total: int, address: str, out: IO[str] = sys.stdout) -> None:
    """One line, rewritten in place on a terminal; every tenth on anything else (CI logs)."""
    total = max(total, applied, 1)
    filled = applied * 30 // total
    line = f"  applying: [{'#' * filled}{'.' * (30 - filled)}] {applied}/{total} {address[:60]}"
    if out.isatty():
        out.write("\r" + line.ljust(110) + ("\n" if applied >= total else ""))
        out.flush()
    elif applied == total or applied % max(1, total // 10) == 0:
        out.write(line + "\n")
        out.flush()


def read_events(lines: IO[str], log: IO[str], progress: Progress) -> list[str]:
    """Follow ``terraform apply -json`` output; returns the error diagnostics."""
    total = applied = 0
    errors: list[str] = []
    for line in lines:
        log.write(line)
        log.flush()
        try:
            message = json.loads(line)
        except ValueError:
            continue
        kind = message.get("type")
        if kind == "change_summary" and message.get("changes", {}).get("operation") == "plan":
            changes = message["changes"]
            total = changes.get("add", 0) + changes.get("change", 0) + changes.get("remove", 0)
        elif kind == "apply_complete" and message.get("hook", {}).get("action") != "read":  # data sources: no
            applied += 1
            progress(applied, total, message.get("hook", {}).get("resource", {}).get("addr", ""))
        elif kind == "diagnostic" and message.get("diagnostic", {}).get("severity") == "error":
            diagnostic = message["diagnostic"]
            errors.append(f"{diagnostic.get('summary', '')}: {diagnostic.get('detail', '')}".strip(": "))
    return errors


def apply(
    env: dict[str, str],
    state_file: Path,
    log_path: Path,
    progress: Progress = bar,
    extra_vars: dict[str, str] | None = None,
    var_file: str = "environments/local.tfvars",
) -> dict:
    root = terraform.generate()
    terraform.init(root)
    args = [
        terraform.terraform_bin(),
        "apply",
        "-json",
        "-input=false",
        "-auto-approve",
        "-parallelism=20",
        f"-state={state_file}",
        f"-var-file={var_file}",
        f"-var=artifacts_dir={root / 'builds'}",
        *[f"-var={key}={value}" for key, value in (extra_vars or {}).items()],
    ]
    full_env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", **env}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            args,
            cwd=root,
            env=full_env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        try:
            errors = read_events(proc.stdout, log, progress)
            code = proc.wait()
        except KeyboardInterrupt:
            proc.send_signal(signal.SIGINT)  # terraform stops cleanly on one interrupt
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    if code != 0:
        detail = "; ".join(errors[:3]) or "see the log"
        raise RuntimeError(f"terraform apply failed ({code}): {detail}. Full log: {log_path}")
    out = terraform.run(["output", "-json", f"-state={state_file}"], root, env=env, capture=True)
    return {k: v["value"] for k, v in json.loads(out).items()}
