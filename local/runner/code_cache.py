"""Function code on disk: each deployed zip unpacked once, into a folder named by the function
and the zip's hash, which workers run from.

Another thread or process (a ``make deploy`` beside a saved handler the watcher redeploys) may
unpack the same zip at the same moment: each unpacks into its own temporary folder beside the
target and renames it into place in one step, so a worker never sees a half-unpacked folder
and the loser of the race uses the winner's folder."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path


def unpacked(code: bytes, name: str, root: Path) -> Path:
    """The folder under ``root`` holding function ``name``'s zip ``code``, unpacked."""
    target = root / f"{name}-{hashlib.sha256(code).hexdigest()[:12]}"
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=root))
    try:
        tmp.chmod(0o755)  # mkdtemp's folder is private; the unpacked code is readable as any unpacked zip
        zipfile.ZipFile(io.BytesIO(code)).extractall(tmp)
        try:
            os.replace(tmp, target)
        except OSError:  # a complete folder is already in place: the same code, unpacked first elsewhere
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target
