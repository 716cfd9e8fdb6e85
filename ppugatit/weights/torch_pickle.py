"""Read PyTorch ``.pt`` checkpoints without PyTorch, safely.

A ``.pt`` file is a zip archive holding a pickle (``data.pkl``) whose tensors point to raw
storages (``data/<key>``), or, before PyTorch 1.6, a sequence of pickles followed by the raw
storages. Unpickling can run arbitrary code, so the unpickler here resolves only the handful
of globals a state dict needs and refuses every other one.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

from ppugatit.errors import CheckpointError


class CheckpointFormatError(CheckpointError):
    """The file is not a readable PyTorch checkpoint; the message names the file."""


_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": "bfloat16", "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "UntypedStorage": np.uint8,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, name: str):
        self.name = name
        self.dtype = _STORAGE_DTYPES[name]

    def decode(self, raw: bytes) -> np.ndarray:
        if self.dtype == "bfloat16":
            bits = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            return bits.view(np.float32)
        return np.frombuffer(raw, dtype=np.dtype(self.dtype).newbyteorder("<"))


class _PendingTensor:
    """A tensor of a legacy file, whose storage bytes come after the pickle."""

    def __init__(self, key: str, args: tuple):
        self.key, self.args = key, args


def _view(storage: np.ndarray, offset: int, size: tuple, stride: tuple) -> np.ndarray:
    if not size:
        return storage[offset].copy()
    if storage.size < offset + 1 + sum((n - 1) * s for n, s in zip(size, stride) if n > 0):
        raise ValueError("tensor runs past the end of its storage")
    view = np.lib.stride_tricks.as_strided(storage[offset:], shape=tuple(size),
                                           strides=tuple(s * storage.itemsize for s in stride))
    return np.ascontiguousarray(view).copy()


def _rebuild_tensor_v2(storage: Any, offset: int, size: tuple, stride: tuple,
                       requires_grad: bool = False, hooks: Any = None,
                       metadata: Any = None) -> Any:
    if isinstance(storage, str):
        return _PendingTensor(storage, (offset, tuple(size), tuple(stride)))
    return _view(storage, offset, tuple(size), tuple(stride))


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False, hooks: Any = None,
                       state: Any = None) -> np.ndarray:
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: io.BufferedIOBase, path: str, load_storage):
        super().__init__(file)
        self.path = path
        self.load_storage = load_storage

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        if module in ("torch", "torch.storage") and name in _STORAGE_DTYPES:
            return _StorageType(name)
        raise CheckpointFormatError(
            f"{self.path}: refusing to load, the pickle references '{module}.{name}', which a "
            f"state dict never needs (only tensors, dicts and numbers are accepted)")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise CheckpointFormatError(f"{self.path}: unsupported persistent id {pid!r:.60}")
        return self.load_storage(pid)


def _load_zip(path: str) -> Any:
    try:
        archive = zipfile.ZipFile(path)
        names = archive.namelist()
    except (zipfile.BadZipFile, OSError, EOFError) as e:
        raise CheckpointFormatError(f"{path}: truncated or corrupt zip archive ({e})") from None
    pkl = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
    if not pkl:
        raise CheckpointFormatError(f"{path}: zip archive without data.pkl; not a PyTorch file")
    prefix = pkl[0][: -len("data.pkl")]
    cache: dict = {}

    def load_storage(pid: tuple) -> np.ndarray:
        _, storage_type, key, _location, numel = pid[:5]
        if key not in cache:
            try:
                raw = archive.read(f"{prefix}data/{key}")
            except (KeyError, zipfile.BadZipFile, OSError, EOFError) as e:
                raise CheckpointFormatError(
                    f"{path}: storage {key} is missing or corrupt ({e})") from None
            arr = storage_type.decode(raw)
            if arr.size < numel:
                raise CheckpointFormatError(f"{path}: storage {key} is truncated")
            cache[key] = arr
        return cache[key]

    try:
        with archive.open(pkl[0]) as f:
            return _RestrictedUnpickler(io.BytesIO(f.read()), path, load_storage).load()
    except CheckpointFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, ValueError, TypeError) as e:
        raise CheckpointFormatError(f"{path}: cannot read the pickle ({e})") from None


def _load_legacy(path: str) -> Any:
    """The pre-1.6 format: magic, protocol, sys info, the object, storage keys, raw storages."""
    with open(path, "rb") as f:
        data = f.read()
    stream = io.BytesIO(data)
    storages: dict = {}

    def no_storage(pid: tuple) -> Any:
        raise CheckpointFormatError(f"{path}: unexpected storage in the header")

    try:
        magic = _RestrictedUnpickler(stream, path, no_storage).load()
        if magic != _LEGACY_MAGIC:
            raise CheckpointFormatError(f"{path}: not a PyTorch checkpoint (wrong magic number)")
        _RestrictedUnpickler(stream, path, no_storage).load()  # protocol version
        _RestrictedUnpickler(stream, path, no_storage).load()  # sys info

        def record(pid: tuple) -> str:
            _, storage_type, key, _location, numel = pid[:5]
            if len(pid) > 5 and pid[5] is not None:
                raise CheckpointFormatError(f"{path}: storage views are not supported")
            storages.setdefault(key, [storage_type, numel, None])
            return key

        obj = _RestrictedUnpickler(stream, path, record).load()
        keys = _RestrictedUnpickler(stream, path, no_storage).load()
        for key in keys:
            storage_type = storages[key][0]
            (count,) = struct.unpack("<q", stream.read(8))
            dtype = storage_type.dtype
            itemsize = 2 if dtype == "bfloat16" else np.dtype(dtype).itemsize
            raw = stream.read(count * itemsize)
            if len(raw) < count * itemsize:
                raise CheckpointFormatError(f"{path}: truncated (storage {key} is incomplete)")
            storages[key][2] = storage_type.decode(raw)
        return _resolve(obj, storages)
    except CheckpointFormatError:
        raise
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError, TypeError,
            KeyError, IndexError) as e:
        raise CheckpointFormatError(f"{path}: not a readable PyTorch checkpoint ({e})") from None


def _resolve(obj: Any, storages: dict) -> Any:
    """Replace the pending tensors left by :func:`_load_legacy` with arrays."""
    if isinstance(obj, _PendingTensor):
        return _view(storages[obj.key][2], *obj.args)
    if isinstance(obj, dict):
        out = collections.OrderedDict() if isinstance(obj, collections.OrderedDict) else {}
        for k, v in obj.items():
            out[k] = _resolve(v, storages)
        return out
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, storages) for v in obj)
    return obj


def load(path: str) -> Any:
    """Load a ``.pt`` file into plain Python containers of numpy arrays."""
    if not os.path.isfile(path):
        raise CheckpointFormatError(f"{path}: file not found")
    with open(path, "rb") as f:
        head = f.read(4)
    if head[:2] == b"PK":
        return _load_zip(path)
    if head[:1] == b"\x80":
        return _load_legacy(path)
    raise CheckpointFormatError(f"{path}: not a PyTorch checkpoint (neither a zip archive nor "
                                f"a legacy pickle)")
