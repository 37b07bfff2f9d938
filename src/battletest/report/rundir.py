"""Run folders: ``OUT/<UTC time>-<run id>/`` per run, and ``OUT/latest`` pointing at the newest.

Nothing is overwritten: a folder that already exists gets a numeric suffix, and ``latest`` is
only ever a symlink (replaced atomically); a real file or folder named ``latest`` is left alone.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from battletest.errors import ConfigError, make_folder


def folder_name(started_at: datetime, run_id: str) -> str:
    return f"{started_at.strftime('%Y%m%dT%H%M%SZ')}-{run_id}"


def create_run_folder(out_dir: Path, started_at: datetime, run_id: str) -> Path:
    """Create a fresh run folder under ``out_dir`` (never reusing an existing one)."""
    make_folder(out_dir, hint="pass --out DIR", what="the output folder ")
    if not out_dir.is_dir():
        raise ConfigError(f"--out {out_dir} is not a folder", hint="pass --out DIR")
    base = folder_name(started_at, run_id)
    for n in range(1000):
        folder = out_dir / (base if n == 0 else f"{base}-{n}")
        try:
            folder.mkdir()
        except FileExistsError:
            continue
        return folder
    raise ConfigError(f"cannot create a run folder in {out_dir}", hint="clean up old runs")


def update_latest(folder: Path) -> Path | None:
    """Point ``folder.parent/latest`` at ``folder``; None if ``latest`` is not ours to replace."""
    link = folder.parent / "latest"
    if link.exists() and not link.is_symlink():
        return None
    tmp = folder.parent / f".latest-{os.getpid()}-{folder.name}"
    try:
        tmp.symlink_to(folder.name, target_is_directory=True)
        os.replace(tmp, link)
    except OSError:
        tmp.unlink(missing_ok=True)
        return None
    return link


__all__ = ["create_run_folder", "folder_name", "update_latest"]
