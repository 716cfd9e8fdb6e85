"""Read ``paddle.save`` files (ours, PaddleGAN's) without running code from them.

``paddle.load`` unpickles whatever the file names, so a downloaded ``.pdparams`` could run
anything. A state dict needs only dicts, tuples and numpy arrays: this unpickler resolves those
few globals and refuses every other one, naming it. Paddle 2.1+ stores a tensor as the tuple
``(name, ndarray)``; older files store the array itself. Both come back as numpy arrays.
"""
from __future__ import annotations

import collections
import os
import pickle
from typing import Any

import numpy as np

from ppugatit.errors import CheckpointError

_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "tuple"): tuple,
    ("builtins", "list"): list,
    ("builtins", "dict"): dict,
    ("builtins", "set"): set,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}
def _reconstruct(cls: type, shape: Any, dtype: Any) -> np.ndarray:
    """numpy's own ``_reconstruct``: an empty array that ``__setstate__`` then fills."""
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("an array of a subclass of ndarray")
    return np.ndarray.__new__(cls, shape, dtype)


def _scalar(dtype: np.dtype, data: bytes | None = None) -> np.generic:
    return np.frombuffer(data or b"\0" * dtype.itemsize, dtype=dtype)[0].copy()


for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED[(_module, "_reconstruct")] = _reconstruct
    _ALLOWED[(_module, "scalar")] = _scalar
del _module


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED:
            raise pickle.UnpicklingError(f"it asks for '{module}.{name}'")
        return _ALLOWED[(module, name)]


def _arrays(obj: Any) -> Any:
    """Paddle's ``(name, ndarray)`` tensors as arrays, recursively."""
    if isinstance(obj, tuple) and len(obj) == 2 and isinstance(obj[0], str) \
            and isinstance(obj[1], np.ndarray):
        return obj[1]
    if isinstance(obj, dict):
        return {k: _arrays(v) for k, v in obj.items() if k != "StructuredToParameterName@@"}
    if isinstance(obj, list):
        return [_arrays(v) for v in obj]
    return obj


def is_pickle(path: str) -> bool:
    """A pickle starts with PROTO (0x80) and its protocol number."""
    with open(path, "rb") as f:
        head = f.read(2)
    return len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5


def load(path: str) -> Any:
    """The file's object with every tensor a numpy array; one-line errors name the file."""
    if not os.path.isfile(path):
        raise CheckpointError(f"{path}: file not found")
    try:
        with open(path, "rb") as f:
            obj = _Unpickler(f).load()
    except pickle.UnpicklingError as e:
        reason = str(e)
        if reason.startswith("it asks for"):
            raise CheckpointError(f"{path}: refused: {reason}, which no weights file needs "
                                  f"(a pickle that names it could run code); only load "
                                  f"weights you trust") from None
        raise CheckpointError(f"{path}: not a readable paddle.save file ({reason}); is it "
                              f"truncated? download it again") from None
    except (EOFError, ValueError, TypeError, MemoryError, IndexError, KeyError,
            AttributeError) as e:
        raise CheckpointError(f"{path}: not a readable paddle.save file "
                              f"({type(e).__name__}: {str(e)[:80]}); is it truncated? download "
                              f"it again") from None
    return _arrays(obj)
