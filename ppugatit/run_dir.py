"""Output folders: refused before any work when they cannot be written, one run per folder, and
an earlier run moved aside (never deleted, never mixed with a new one) to start afresh."""
from __future__ import annotations

import os
import tempfile
import time

from ppugatit.errors import UserError

# What a training run writes into its output folder; any of them there means a run is there.
RUN_ENTRIES = ("checkpoints", "weights.pdparams", "best.pdparams", "samples", "vdl", "train.log",
               "config.yaml")


def check_writable(path: str, what: str, fix: str = "choose another folder") -> None:
    """One-line error naming ``what`` when the folder ``path`` is a file, lies under a file or
    cannot be written; creates nothing (a probe file in the nearest existing folder is removed)."""
    probe = os.path.abspath(path)
    while not os.path.lexists(probe) and os.path.dirname(probe) != probe:
        probe = os.path.dirname(probe)
    if not os.path.isdir(probe):
        where = "is a file" if probe == os.path.abspath(path) else f"lies under the file '{probe}'"
        raise UserError(f"{what} '{path}' {where}, not a folder; {fix}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".write-test-", dir=probe)
        os.close(fd)
        os.remove(tmp)
    except OSError as e:
        raise UserError(f"{what} '{path}' cannot be written in '{probe}' ({e.strerror}); {fix} "
                        f"or make it writable") from None


def previous_run(out: str) -> list[str]:
    """The entries of :data:`RUN_ENTRIES` already in ``out``."""
    return [e for e in RUN_ENTRIES if os.path.lexists(os.path.join(out, e))]


def move_aside(out: str, entries: list[str]) -> str:
    """Move ``entries`` of ``out`` into a new sibling folder ``<out>.old-<time>``; returns it."""
    base = f"{os.path.abspath(out)}.old-{time.strftime('%Y%m%d-%H%M%S')}"
    dst, n = base, 1
    while os.path.lexists(dst):
        n += 1
        dst = f"{base}-{n}"
    try:
        os.makedirs(dst)
        for e in entries:
            os.rename(os.path.join(out, e), os.path.join(dst, e))
    except OSError as err:
        raise UserError(f"--fresh: cannot move the run in '{out}' to '{dst}' ({err.strerror}); "
                        f"move or rename it yourself") from None
    return dst


def claim(out: str, resume: bool, fresh: bool) -> list[str]:
    """Check ``out`` is fit for a run: writable, and holding no other run unless ``resume``.
    Returns the entries of an earlier run that ``fresh`` is to move aside (:func:`move_aside`,
    once the new run's set-up has passed its checks); without ``fresh`` such a run is refused."""
    if resume and fresh:
        raise UserError("--resume continues the run in output_dir, --fresh moves it aside: "
                        "give one of them")
    check_writable(out, "output_dir", "set -o output_dir=<a folder you can write>")
    found = previous_run(out)
    if resume or not found:
        return []
    if not fresh:
        raise UserError(f"output_dir '{out}' already holds a run ({', '.join(found)}); add "
                        f"--resume to continue it, --fresh to move it to {out}.old-<time> and "
                        f"start anew, or -o output_dir=<another folder>")
    return found
