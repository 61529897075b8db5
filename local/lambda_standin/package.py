"""Build a Lambda zip as terraform-aws-modules/lambda 8.8.1 does for this project's source_path.

Each spec entry is {"path", "prefix_in_zip", "patterns", "commands"}, with the real module's
semantics (package.py BuildPlanManager, 8.8.1) for the forms the project uses:

* without ``commands``: the files under ``path``, under ``prefix_in_zip``;
* with ``commands``: the shell commands run with ``path`` as working directory, in one ``sh``
  per run of commands between ``:zip`` lines (a failing script fails the build); ``:zip [dir
  [prefix]]`` adds the files under ``dir`` (default: the directory the last script ended in,
  relative paths from there) under ``prefix``. ``prefix_in_zip`` is not read for such an entry.

``patterns`` (ZipContentFilter): each is a regular expression matched with fullmatch against
a path relative to the directory zipped, joined to its prefix; directories are tested as
"dir/". A pattern starting with "!" excludes, any other re-includes; the last matching pattern
wins; no match = included. The zip is deterministic (fixed timestamps, sorted names).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

Rules = list[tuple[bool, "re.Pattern[str]"]]


def compile_patterns(patterns: list[str] | str | None) -> Rules | None:
    if not patterns:
        return None
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.splitlines() if p.strip()]
    return [(p.startswith("!"), re.compile(p[1:] if p.startswith("!") else p)) for p in patterns]


def included(path: str, rules: Rules | None) -> bool:
    keep = True
    for exclude, regex in rules or []:
        if regex.fullmatch(path):
            keep = not exclude
    return keep


def files_under(root: Path, prefix: str = "", rules: Rules | None = None):
    """(name in zip, file) for every file the rules keep, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(prefix, rel_dir, name))
            if included(rel, rules):
                yield rel, Path(dirpath) / name


def run_script(script: str, workdir: Path) -> Path:
    """Run one batch of commands as the real module's ``sh`` step does; return where it ended."""
    with tempfile.NamedTemporaryFile("r") as where:
        done = subprocess.run(
            ["sh", "-c", f"{script}\nretcode=$?\npwd >{where.name}\nexit $retcode"],
            cwd=workdir,
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            output = f"{done.stdout.strip()} - {done.stderr.strip()}"
            sys.exit(f"Script did not run successfully, exit code {done.returncode}: {output}")
        return Path(where.read().strip())


def entry_files(item: dict) -> dict[str, Path]:
    """What one source_path entry adds to the zip: {name in zip: file}."""
    path = Path(item["path"]).resolve()
    rules = compile_patterns(item.get("patterns"))
    commands = item.get("commands")
    if not commands:
        if item.get("pip_requirements"):
            sys.exit("the stand-in builds requirements only through commands (the function module's build.py)")
        return dict(files_under(path, item.get("prefix_in_zip") or "", rules))
    if isinstance(commands, str):
        commands = [c.strip() for c in commands.splitlines()]
    entries: dict[str, Path] = {}
    workdir, batch = path, []
    for command in commands:
        if not command.startswith(":zip"):
            batch.append(command)
            continue
        if batch:
            workdir, batch = run_script("\n".join(batch), workdir), []
        words = shlex.split(command)
        if len(words) > 3:
            sys.exit(":zip invalid call signature, use: ':zip [path [prefix_in_zip]]'")
        target = workdir / os.path.normpath(words[1]) if len(words) > 1 else workdir
        if not target.exists():
            sys.exit(f":zip {target}: no such file or directory")  # 8.8.1 fails too (it cannot stat it)
        entries.update(files_under(target, words[2].strip() if len(words) > 2 else "", rules))
    if batch:
        run_script("\n".join(batch), workdir)
    return entries


def write_atomically(output: Path, write: Callable[[IO[bytes]], object]) -> None:
    """Write ``output`` through a temporary file of its own beside it, renamed into place in one
    step: a reader sees the old file or the whole new one, and builds of the same output at once
    (a ``make deploy`` beside the watcher's) never write into each other's file."""
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(name, 0o644)  # mkstemp's file is private; the zip is read as any built file
        os.replace(name, output)
    except BaseException:
        os.unlink(name)
        raise


def build(output: Path, spec: list[dict]) -> None:
    entries: dict[str, Path] = {}
    for item in spec:
        entries.update(entry_files(item))

    def write_zip(f: IO[bytes]) -> None:
        with zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(entries):
                info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
                info.external_attr = 0o644 << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                zf.writestr(info, entries[name].read_bytes())

    write_atomically(output, write_zip)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--spec", required=True)
    parser.add_argument("--runtime", default="")
    parser.add_argument("--record", type=Path, help="also write the spec here (what make deploy rebuilds from)")
    args = parser.parse_args()
    spec = json.loads(args.spec)
    build(args.output, spec)
    if args.record:
        record = {"spec": spec, "runtime": args.runtime, "cwd": os.getcwd()}  # paths are relative to cwd
        write_atomically(args.record, lambda f: f.write(json.dumps(record, indent=2).encode()))


if __name__ == "__main__":
    main()
