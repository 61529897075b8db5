"""Build one part of a Lambda package into a directory, then print that directory.

The function module's ``source_path`` runs this from its ``commands`` and zips the directory
the shell ends in (terraform-aws-modules/lambda: ``out=$(python3.12 -I build.py ...)``,
``cd "$out"``, then ``:zip``). Each build gets a directory of its own under OUT, so builds of
one function at the same time (an apply, ``make deploy``, the bench) never share one; those
older than ten minutes are removed. Two parts make a package: the function's folder with its
locked requirements, and ``shared/``. What a part's directory holds:

* the folder's own files, with CPython 3.12 bytecode beside them in ``__pycache__``
  (``--invalidation-mode unchecked-hash``: the runtime never stats the sources nor tries to
  write a ``.pyc`` into the read-only task root);
* with ``--requirements``, every package the lock file pins, the SDK included, installed from
  manylinux x86_64 wheels whatever the host is (``pip --platform``; ``--require-hashes``) and
  shipped as bytecode only (``x.pyc`` in place of ``x.py``): a third of the size of source plus
  bytecode, at the price of library frames in a traceback showing file and line, not the line's
  text. The installed tree is cached under ``--cache`` by the lock file's hash.

Which of these files reach the zip is the module's ``patterns`` decision, not this script's.
Bytecode is version-specific, so this must run on Python 3.12, the runtime's version.
"""

from __future__ import annotations

import argparse
import compileall
import fcntl
import hashlib
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
from importlib.util import MAGIC_NUMBER
from pathlib import Path

RUNTIME = (3, 12)
# The Lambda python3.12 runtime on x86_64 (Amazon Linux 2023, glibc 2.34): manylinux2014 wheels run on it.
PIP_PLATFORM = ["--platform", "manylinux2014_x86_64", "--implementation", "cp", "--python-version", "3.12"]
INVALIDATION = py_compile.PycInvalidationMode.UNCHECKED_HASH
SKIPPED = {"__pycache__", "requirements.in", "requirements.txt"}
# What an installed tree depends on besides the pins: this script and the bytecode's version.
SCRIPT_DIGEST = hashlib.sha256(Path(__file__).read_bytes() + MAGIC_NUMBER).hexdigest()
STALE_SECONDS = 600


def compile_tree(root: Path, ddir: str, legacy: bool, workers: int = 1) -> None:
    """Bytecode for every module under ``root`` (asserts and docstrings kept: the runtime runs
    without -O); ``legacy``: ``x.pyc`` replaces ``x.py``."""
    ok = compileall.compile_dir(
        str(root), quiet=1, ddir=ddir, legacy=legacy, optimize=0, invalidation_mode=INVALIDATION, workers=workers
    )
    if not ok:
        sys.exit(f"build: {root} does not compile on Python {sys.version.split()[0]}")
    if legacy:
        for source in root.rglob("*.py"):
            source.unlink()


def cache_key(requirements: Path) -> str:
    """The lock file's pins (not its comments), the target platform, this script and the bytecode version."""
    pins = [line.split("#")[0].strip() for line in requirements.read_text().splitlines()]
    return hashlib.sha256("\n".join([*filter(None, pins), *PIP_PLATFORM, SCRIPT_DIGEST]).encode()).hexdigest()[:16]


def installed(requirements: Path, cache: Path) -> Path:
    """The locked packages, installed and compiled once per cache key (shared by concurrent builds)."""
    digest = cache_key(requirements)
    target = cache / digest
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            pip = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
            pip += ["--require-hashes", "--only-binary=:all:", "--no-deps", *PIP_PLATFORM]
            # pip's output goes to stderr: stdout is the one line the module's commands read
            subprocess.run([*pip, "--target", str(target), "-r", str(requirements)], check=True, stdout=sys.stderr)
            shutil.rmtree(target / "bin", ignore_errors=True)  # console scripts: nothing runs them in Lambda
            compile_tree(target, ddir="/var/task", legacy=True, workers=0)
            (target / ".complete").touch()
    return target


def link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)  # the cache is read-only to builds: a link is a copy that costs nothing
    except OSError:
        shutil.copy2(src, dst)


def copy_sources(src: Path, out: Path) -> None:
    for entry in sorted(src.iterdir()):
        if entry.name in SKIPPED or entry.name.startswith("."):
            continue
        if entry.is_dir():
            shutil.copytree(entry, out / entry.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(entry, out / entry.name)


def fresh_directory(parent: Path) -> Path:
    """A directory only this build writes; earlier builds' directories go once they are stale."""
    parent.mkdir(parents=True, exist_ok=True)
    for old in parent.glob("build-*"):
        if time.time() - old.stat().st_mtime > STALE_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix="build-", dir=parent))


def build(src: Path, parent: Path, requirements: Path | None, cache: Path, prefix: str) -> Path:
    out = fresh_directory(parent)
    if requirements is not None:
        shutil.copytree(installed(requirements, cache), out, dirs_exist_ok=True, copy_function=link_or_copy)
        (out / ".complete").unlink()
    own = out / ".own"  # compile the folder's own sources apart from the (already compiled) packages
    own.mkdir()
    copy_sources(src, own)
    compile_tree(own, ddir=os.path.join("/var/task", prefix), legacy=False)
    shutil.copytree(own, out, dirs_exist_ok=True, copy_function=os.replace)  # moved: never written through a link
    shutil.rmtree(own)
    out.chmod(0o755)  # mkdtemp makes it 0700
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", type=Path, help="the folder to package (functions/<name> or shared)")
    parser.add_argument("out", type=Path, help="the directory whose new build-* subdirectory the part is built in")
    parser.add_argument("--requirements", type=Path, help="lock file (pip, hashed) whose packages the part carries")
    parser.add_argument("--cache", type=Path, help="where installed lock files are kept (default: <out>/deps)")
    parser.add_argument("--prefix", default="", help="the part's folder in the zip (prefix_in_zip)")
    args = parser.parse_args()
    if sys.version_info[:2] != RUNTIME:
        sys.exit(
            f"build: run with python3.12 (the Lambda runtime's version; bytecode is per version), not {sys.version}"
        )
    out = build(args.src, args.out.resolve(), args.requirements, args.cache or args.out.resolve() / "deps", args.prefix)
    print(out)


if __name__ == "__main__":
    main()
