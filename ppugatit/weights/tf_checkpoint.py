"""A reader of TensorFlow checkpoint bundles (``<prefix>.index`` + ``<prefix>.data-*``), in numpy.

TensorFlow is not needed and nothing is unpickled: the ``.index`` is an SSTable (LevelDB's
table format, uncompressed as TensorFlow writes it) whose keys are variable names and whose
values are ``BundleEntryProto`` messages (dtype, shape, shard, offset, size); the tensors are
raw little-endian bytes in the ``.data`` shard, read through a memory map. The two protobuf
messages are decoded by hand: only their varint and length-delimited fields are used.
"""
from __future__ import annotations

import os
import re
import struct
from typing import Callable, Iterator, Optional

import numpy as np

from ppugatit.errors import CheckpointError

TABLE_MAGIC = 0xDB4775248B80FB57
FOOTER_SIZE = 48
BLOCK_TRAILER = 5  # compression type byte + crc32
DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 5: np.int16, 6: np.int8,
          9: np.int64, 10: np.bool_, 14: np.uint16, 17: np.uint16, 19: np.float16}
OPTIMIZER_STATE = re.compile(r"(/Adam(_\d+)?$|^beta[12]_power(_\d+)?$)")


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """``(field number, wire type, value)`` of a protobuf message; varints and bytes only."""
    pos = 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos:pos + size], pos + size
        elif wire == 5:
            value, pos = struct.unpack_from("<I", buf, pos)[0], pos + 4
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", buf, pos)[0], pos + 8
        else:
            raise ValueError(f"protobuf wire type {wire}")
        yield number, wire, value


def _block(data: bytes, offset: int, size: int) -> Iterator[tuple[bytes, bytes]]:
    """The ``(key, value)`` entries of one table block (prefix-compressed keys)."""
    if offset + size + BLOCK_TRAILER > len(data):
        raise ValueError("a block runs past the end of the file")
    if data[offset + size] != 0:
        raise ValueError("a compressed block (TensorFlow writes none)")
    block = data[offset:offset + size]
    n_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * n_restarts
    pos, key = 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        non_shared, pos = _varint(block, pos)
        value_len, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + non_shared]
        pos += non_shared
        yield key, block[pos:pos + value_len]
        pos += value_len


def _table(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    if len(data) < FOOTER_SIZE or struct.unpack_from("<Q", data, len(data) - 8)[0] != TABLE_MAGIC:
        raise ValueError("no TensorFlow table footer (not an .index file, or cut short)")
    footer = data[len(data) - FOOTER_SIZE:]
    _, pos = _varint(footer, 0)  # metaindex offset
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    for _, handle in _block(data, index_offset, index_size):
        offset, pos = _varint(handle, 0)
        size, _ = _varint(handle, pos)
        yield from _block(data, offset, size)


def _entry(value: bytes) -> dict:
    entry = {"dtype": 0, "shape": [], "shard_id": 0, "offset": 0, "size": 0, "slices": False}
    for number, _, field in _fields(value):
        if number == 1:
            entry["dtype"] = field
        elif number == 2:
            for dim_number, _, dim in _fields(field):
                if dim_number == 2:
                    entry["shape"].append(next((v for n, _, v in _fields(dim) if n == 1), 0))
        elif number in (3, 4, 5):
            entry[("shard_id", "offset", "size")[number - 3]] = field
        elif number == 7:
            entry["slices"] = True
    return entry


def read_index(path: str) -> dict[str, dict]:
    """Variable name -> ``{dtype, shape, shard_id, offset, size}`` from a ``.index`` file."""
    try:
        with open(path, "rb") as f:
            data = f.read()
        entries = {}
        for key, value in _table(data):
            if key:  # the empty key holds the BundleHeaderProto
                entries[key.decode("utf-8")] = _entry(value)
    except (ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
        raise CheckpointError(f"{path}: not a readable TensorFlow checkpoint index ({exc}); "
                              f"pass the checkpoint folder or its <name>.index") from None
    return entries


def _checkpoint_file_prefix(folder: str) -> Optional[str]:
    """The prefix named by a folder's ``checkpoint`` file (its path may be another machine's)."""
    path = os.path.join(folder, "checkpoint")
    if not os.path.isfile(path):
        return None
    with open(path, encoding="utf-8", errors="replace") as f:
        m = re.search(r'^model_checkpoint_path:\s*"(.*)"', f.read(), re.M)
    if not m:
        raise CheckpointError(f"{path}: names no model_checkpoint_path; it is not a TensorFlow "
                              f"'checkpoint' file, or it is damaged")
    named = m.group(1)
    # the copy in this folder first: the file may name the trainer's machine's path
    candidates = [os.path.join(folder, os.path.basename(named))]
    if not os.path.isabs(named):
        candidates.append(os.path.join(folder, named))
    for candidate in candidates:
        if os.path.isfile(candidate + ".index"):
            return candidate
    raise CheckpointError(f"{path}: names '{named}', but {os.path.basename(named)}.index is not "
                          f"in {folder}; download the whole checkpoint folder")


def is_bundle(path: str) -> bool:
    """Whether ``path`` names a TensorFlow checkpoint by any of the ways :func:`resolve_prefix`
    takes (without reading the tensors)."""
    if os.path.isdir(path):
        return os.path.isfile(os.path.join(path, "checkpoint")) or any(
            os.path.isfile(os.path.join(path, d, "checkpoint")) for d in _subfolders(path))
    return (path.endswith(".index") or os.path.isfile(path + ".index")
            or re.search(r"\.data-\d{5}-of-\d{5}$", path) is not None)


def _subfolders(path: str) -> list[str]:
    return sorted(d for d in os.listdir(path) if os.path.isdir(os.path.join(path, d)))


def resolve_prefix(path: str) -> str:
    """The ``<prefix>`` of a checkpoint named by its folder, the folder above it, the prefix,
    its ``.index`` or its ``.data`` file."""
    if os.path.isdir(path):
        prefix = _checkpoint_file_prefix(path)
        if prefix:
            return prefix
        inner = [d for d in _subfolders(path) if os.path.isfile(os.path.join(path, d, "checkpoint"))]
        if len(inner) == 1:
            return _checkpoint_file_prefix(os.path.join(path, inner[0]))
        if inner:
            raise CheckpointError(f"{path}: holds {len(inner)} checkpoint folders ({', '.join(inner)}); "
                                  f"pass the one to use")
        raise CheckpointError(f"{path}: a folder without a TensorFlow 'checkpoint' file; pass the "
                              f"folder the authors' checkpoint was unpacked into, or its "
                              f"<name>.index")
    prefix = re.sub(r"(\.index|\.data-\d{5}-of-\d{5})$", "", path)
    if not os.path.isfile(prefix + ".index"):
        raise CheckpointError(f"{prefix}.index: missing; a TensorFlow checkpoint needs its .index "
                              f"beside its .data file (download both)")
    return prefix


def read_variables(prefix: str, keep: Callable[[str], bool] = lambda name: True,
                   ) -> dict[str, np.ndarray]:
    """The variables of a checkpoint whose names ``keep`` accepts (optimizer slots never), as
    read-only arrays on a memory map of the ``.data`` shard(s)."""
    index = read_index(prefix + ".index")
    shards: dict[int, np.memmap] = {}
    n_shards = 1 + max((e["shard_id"] for e in index.values()), default=0)
    for sid in range(n_shards):  # a cut-short file is refused even where nothing read is cut
        data_path = f"{prefix}.data-{sid:05d}-of-{n_shards:05d}"
        if not os.path.isfile(data_path):
            raise CheckpointError(f"{data_path}: missing; download it with the .index")
        need = max((e["offset"] + e["size"] for e in index.values() if e["shard_id"] == sid),
                   default=0)
        have = os.path.getsize(data_path)
        if have < need:
            raise CheckpointError(f"{data_path}: cut short or damaged ({have} bytes where the "
                                  f"index needs {need}); download it again")
    out = {}
    for name, entry in index.items():
        if OPTIMIZER_STATE.search(name) or not keep(name):
            continue
        if entry["slices"] or entry["dtype"] not in DTYPES:
            raise CheckpointError(f"{prefix}.index: variable '{name}' is partitioned or of dtype "
                                  f"{entry['dtype']}, which ppugatit does not read")
        sid = entry["shard_id"]
        data_path = f"{prefix}.data-{sid:05d}-of-{n_shards:05d}"
        if sid not in shards:
            shards[sid] = np.memmap(data_path, dtype=np.uint8, mode="r")
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        count = int(np.prod(entry["shape"], dtype=np.int64))
        begin, size = entry["offset"], entry["size"]
        if size != count * dtype.itemsize:
            raise CheckpointError(f"{prefix}.index: '{name}' is {size} bytes for shape "
                                  f"{entry['shape']}; the index is damaged, download it again")
        out[name] = shards[sid][begin:begin + size].view(dtype).reshape(entry["shape"])
    return out
