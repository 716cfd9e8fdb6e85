"""Checkpoints and weight files: atomic writes, rotation, and loads with one-line errors."""
from __future__ import annotations

import glob
import os
import re
import shutil
from typing import Any

import numpy as np
import paddle
import paddle.nn as nn

from ppugatit.errors import CheckpointError
from ppugatit.utils import atomic_write


def save(obj: Any, path: str) -> None:
    """``paddle.save`` to a temporary file, then rename: an interrupted save leaves the old file."""
    atomic_write(path, lambda tmp: paddle.save(obj, tmp))


def link_or_copy(src: str, dst: str) -> None:
    """Make ``dst`` the same file as ``src``, atomically: a hard link where the file system
    allows it (a full-model checkpoint is gigabytes; no second write), else a copy."""
    def write(tmp: str) -> None:
        os.remove(tmp)
        try:
            os.link(src, tmp)
        except OSError:
            shutil.copyfile(src, tmp)
    atomic_write(dst, write)


def load(path: str) -> Any:
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    try:
        return paddle.load(path)
    except Exception as e:  # paddle raises many types for a damaged file
        first_line = str(e).splitlines()[0][:120] if str(e) else ""
        raise CheckpointError(f"{path}: cannot be read as a Paddle file "
                              f"({type(e).__name__}: {first_line})") from None


def load_network_state(net: nn.Layer, state: dict, source: str) -> None:
    """Load a state dict, refusing any missing, unexpected or mis-shaped tensor by name."""
    own = net.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = (f"lacks '{missing[0]}'" if missing else f"has an unexpected '{unexpected[0]}'")
        raise CheckpointError(
            f"{source} {what} ({len(missing)} missing, {len(unexpected)} unexpected); "
            f"it was saved for another architecture or model")
    for k, v in own.items():
        shape = list(np.shape(state[k]))
        if shape != list(v.shape):
            raise CheckpointError(
                f"{source}: '{k}' has shape {shape} in the file but {list(v.shape)} in this "
                f"model; set model.light/ch/n_res/img_size as when it was trained")
    net.set_state_dict({k: _as_dtype(state[k], v.dtype) for k, v in own.items()})


def _as_dtype(value: Any, dtype) -> paddle.Tensor:
    """A tensor of the network's dtype: float16-stored weights (weights_fp16.pdparams,
    tools/export_model.py --format fp16) load into the float32 networks."""
    t = value if isinstance(value, paddle.Tensor) else paddle.to_tensor(np.asarray(value))
    return t if t.dtype == dtype else t.astype(dtype)


_CKPT = re.compile(r"iter_(\d+)\.pdckpt$")


def checkpoint_paths(folder: str) -> list[tuple[int, str]]:
    """``(iteration, path)`` of every periodic checkpoint in ``folder``, oldest first."""
    found = []
    for path in glob.glob(os.path.join(folder, "iter_*.pdckpt")):
        m = _CKPT.search(path)
        if m:
            found.append((int(m.group(1)), path))
    return sorted(found)


def rotate(folder: str, keep: int) -> None:
    """Keep the newest ``keep`` periodic checkpoints (``latest`` is separate and always kept)."""
    if keep <= 0:
        return
    for _, path in checkpoint_paths(folder)[:-keep]:
        os.remove(path)
