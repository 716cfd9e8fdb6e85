"""One logger for the package: console, plus a file in the output folder on rank 0."""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import TextIO

_FORMAT = "[%(asctime)s] %(levelname)s %(message)s"


def setup_logger(log_file: str | None = None, rank: int = 0) -> logging.Logger:
    logger = logging.getLogger("ppugatit")
    logger.setLevel(logging.INFO if rank == 0 else logging.WARNING)
    logger.propagate = False
    for h in list(logger.handlers):
        logger.removeHandler(h)
        h.close()
    console = logging.StreamHandler(sys.stdout)
    console.setFormatter(logging.Formatter(_FORMAT, "%H:%M:%S"))
    logger.addHandler(console)
    if log_file and rank == 0:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        handler = logging.FileHandler(log_file, encoding="utf-8")
        handler.setFormatter(logging.Formatter(_FORMAT, "%Y-%m-%d %H:%M:%S"))
        logger.addHandler(handler)
    return logger


def format_eta(seconds: float) -> str:
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return (f"{days}d " if days else "") + f"{h}:{m:02d}:{s:02d}"


class Progress:
    """``images 12/40 | 3.1 img/s | eta 0:00:09`` on stderr: rewritten in place on a terminal,
    else a line every few seconds and at the end."""

    def __init__(self, total: int, what: str = "images", stream: TextIO | None = None,
                 every: float = 5.0, unit: str = "img/s"):
        self.total, self.what, self.every, self.unit = total, what, every, unit
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.start = time.perf_counter()
        self.last = -float("inf")

    def update(self, done: int) -> None:
        now = time.perf_counter()
        final = done >= self.total
        if not (self.tty or final or now - self.last >= self.every):
            return
        self.last = now
        elapsed = max(now - self.start, 1e-9)
        rate = done / elapsed
        eta = format_eta((self.total - done) / rate) if rate > 0 else "?"
        line = f"{self.what} {done}/{self.total} | {rate:.2f} {self.unit} | eta {eta}"
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
