"""Zip size and handler import time per function, measured as the python3.12 Lambda runtime would.

* Python 3.12 (pyenv's 3.12.1, or $BENCH_PYTHON312): the runtime's version, not the venv's.
* The zip: the function's requirements installed for 3.12, minus what the runtime provides
  (RUNTIME_PROVIDED, the packages the function module's ``patterns`` leave out), plus
  ``shared/`` and the function's folder; no .pyc, as a fresh extract.
* The runtime's own packages (boto3 and its dependencies, at the version in requirements.txt)
  sit in a separate directory after the zip on sys.path, precompiled as in the runtime image.
* Each import: a fresh process, PYTHONDONTWRITEBYTECODE=1, the Lambda environment variables
  (LAMBDA_TASK_ROOT, AWS_LAMBDA_FUNCTION_NAME, ...) and the function's own, Tracer enabled
  (POWERTOOLS_TRACE_DISABLED unset); the median of 5, and also with .pyc compiled for 3.12
  shipped in the zip (unchecked-hash: valid whatever mtimes the extract gives the sources).
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import statistics
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".build" / "bench-py312"
PYTHON312 = os.environ.get("BENCH_PYTHON312", str(Path.home() / ".pyenv/versions/3.12.1/bin/python"))
# What the python3.12 runtime provides (and the zips leave out): boto3 and its dependencies.
RUNTIME_PROVIDED = ("boto3", "botocore", "s3transfer", "jmespath", "urllib3", "dateutil", "six")
RUNS = 5


def _excluded(name: str) -> bool:
    base = name.split("-")[0].split(".")[0].lower().removeprefix("python_")
    return base in RUNTIME_PROVIDED or name in ("bin", "__pycache__")


def _pip_target(requirements: str, tag: str) -> Path:
    target = CACHE / f"{tag}-{hashlib.sha256(requirements.encode()).hexdigest()[:12]}"
    if not (target / ".complete").exists():
        shutil.rmtree(target, ignore_errors=True)
        req = CACHE / f"{target.name}.txt"
        CACHE.mkdir(parents=True, exist_ok=True)
        req.write_text(requirements)
        subprocess.run(
            [PYTHON312, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
            + ["--target", str(target), "-r", str(req)],
            check=True,
        )
        (target / ".complete").touch()
    return target


def runtime_dir() -> Path:
    """The runtime's SDK: boto3 at the version the repo pins, compiled (as in the runtime image)."""
    pin = next(line for line in (ROOT / "requirements.txt").read_text().splitlines() if line.startswith("boto3=="))
    target = _pip_target(pin + "\n", "runtime")
    if not (target / ".compiled").exists():
        subprocess.run([PYTHON312, "-m", "compileall", "-q", str(target)], check=False)
        (target / ".compiled").touch()
    return target


def code_dir(function: str, dest: Path) -> Path:
    """A fresh extract of the function's zip (as packaged with the runtime's packages left out)."""
    deps = _pip_target((ROOT / "functions" / function / "requirements.txt").read_text(), "deps")
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for entry in deps.iterdir():
        if entry.name.startswith(".") or _excluded(entry.name):
            continue
        if entry.is_dir():
            shutil.copytree(entry, dest / entry.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, dest / entry.name)
    shutil.copytree(ROOT / "shared", dest / "shared", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for f in (ROOT / "functions" / function).iterdir():
        if f.is_file() and f.suffix != ".pyc":
            shutil.copy2(f, dest / f.name)
    return dest


def zip_bytes(directory: Path) -> int:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(directory))
    return len(buffer.getvalue())


def import_ms(code: Path, runtime: Path, env: dict[str, str], module: str = "app") -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds of ``import app`` in fresh processes. CPU time is reported too: on a shared,
    loaded machine wall time mostly measures the other processes."""
    probe = (
        f"import sys,time; sys.path[:0]=[{str(code)!r},{str(runtime)!r}]; "
        f"t=time.perf_counter(); c=time.process_time(); import {module}; "
        "print((time.perf_counter()-t)*1000, (time.process_time()-c)*1000)"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "POWERTOOLS", "AWS_"))}
    full = {
        **clean,
        "PYTHONDONTWRITEBYTECODE": "1",
        "LAMBDA_TASK_ROOT": str(code),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        **env,
    }
    out = []
    for _ in range(RUNS):
        run = subprocess.run([PYTHON312, "-B", "-s", "-c", probe], env=full, cwd=code, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"import failed in {code}: {run.stderr[-2000:]}")
        wall, cpu = run.stdout.strip().splitlines()[-1].split()
        out.append((float(wall), float(cpu)))
    return out


def measure(function: str, env: dict[str, str]) -> dict:
    """Zip size (runtime packages left out) and import times (no .pyc, and with 3.12 .pyc)."""
    runtime = runtime_dir()
    work = CACHE / "extract" / function
    code = code_dir(function, work)
    size = zip_bytes(code)
    env = {**env, "AWS_LAMBDA_FUNCTION_NAME": env.get("AWS_LAMBDA_FUNCTION_NAME", function)}
    plain = import_ms(code, runtime, env)
    subprocess.run(
        [PYTHON312, "-m", "compileall", "-q", "--invalidation-mode", "unchecked-hash", str(code)], check=True
    )
    compiled_size = zip_bytes(code)
    compiled = import_ms(code, runtime, env)
    shutil.rmtree(work, ignore_errors=True)
    return {
        "function": function,
        "python": subprocess.run([PYTHON312, "--version"], capture_output=True, text=True).stdout.strip(),
        "zip_bytes": size,
        "zip_bytes_with_pyc": compiled_size,
        "import_ms": [round(w) for w, _ in plain],
        "import_ms_median": round(statistics.median(w for w, _ in plain)),
        "import_cpu_ms_median": round(statistics.median(c for _, c in plain)),
        "import_ms_with_pyc": [round(w) for w, _ in compiled],
        "import_ms_with_pyc_median": round(statistics.median(w for w, _ in compiled)),
        "import_cpu_ms_with_pyc_median": round(statistics.median(c for _, c in compiled)),
    }


# What any handler of this stack imports before its own code: the floor under its import time.
FLOOR_PROBES = {
    "import boto3 (the runtime's, precompiled)": "import boto3",
    "import pydantic": "import pydantic",
    "Powertools Logger()": "from aws_lambda_powertools import Logger; Logger()",
    "Powertools Tracer() (patches botocore)": "from aws_lambda_powertools import Tracer; Tracer()",
    "boto3 + pydantic + Logger + Metrics + Tracer": (
        "import boto3, pydantic; from aws_lambda_powertools import Logger, Metrics, Tracer;"
        " Logger(); Metrics(); Tracer()"
    ),
}


def floor(function: str = "sticky_ingester") -> list[dict]:
    """Median import time of each FLOOR_PROBES statement, measured as ``measure`` measures a handler."""
    runtime = runtime_dir()
    code = code_dir(function, CACHE / "extract" / "floor")
    env = {"AWS_LAMBDA_FUNCTION_NAME": function, "POWERTOOLS_SERVICE_NAME": function}
    rows = []
    for name, statement in FLOOR_PROBES.items():
        probe = code / "floor_probe.py"
        probe.write_text(statement + "\n")
        times = import_ms(code, runtime, env, module="floor_probe")
        rows.append(
            {
                "what": name,
                "import_ms_median": round(statistics.median(w for w, _ in times)),
                "import_cpu_ms_median": round(statistics.median(c for _, c in times)),
            }
        )
    shutil.rmtree(code, ignore_errors=True)
    return rows


if __name__ == "__main__":  # python -m bench.packages relay_consumer ...
    for name in sys.argv[1:]:
        print(measure(name, {"POWERTOOLS_SERVICE_NAME": name}))
