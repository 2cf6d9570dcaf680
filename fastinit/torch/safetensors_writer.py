"""A streaming writer of .safetensors files, byte for byte what ``safetensors`` writes.

The format: an 8-byte little-endian header length N, N bytes of JSON (padded with
spaces to a multiple of 8), then the raw little-endian tensor bytes.  The JSON holds
``__metadata__`` first, then one entry per tensor (``dtype``, ``shape``,
``data_offsets`` relative to the end of the header) in the order safetensors uses:
wider dtypes first (I64, F64, F32, I32, BF16, F16, ...), then by name; the data follows that order.

Every shape is known before any value (the model is on meta), so the header is
written first and each tensor is written at its offset as soon as it is computed,
in any order: memory never holds more than the tensor being written.
"""
from __future__ import annotations

import json
import os
import struct
import sys

import torch

DTYPE_CODES = {torch.float64: "F64", torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8",
               torch.uint8: "U8", torch.bool: "BOOL"}
# safetensors' Dtype enum order, descending (wider first), for the tensors' order in a file
_RANK = {code: i for i, code in enumerate(("I64", "F64", "F32", "I32", "BF16", "F16", "I16", "I8",
                                           "U8", "BOOL"))}
_WRITE_CHUNK = 64 << 20  # bytes per pwrite call, so progress moves and Ctrl-C is prompt


def _nbytes(dtype, shape):
    n = dtype.itemsize
    for s in shape:
        n *= s
    return n


class ShardFile:
    """One .safetensors file: its layout computed from (name, dtype, shape) entries."""

    def __init__(self, path, entries, metadata=None):
        self.path = path
        order = sorted(entries, key=lambda e: (_RANK[DTYPE_CODES[e[1]]], e[0]))
        header = {"__metadata__": dict(metadata or {"format": "pt"})}
        self.offsets = {}  # name -> (absolute offset, nbytes)
        pos = 0
        spans = []
        for name, dtype, shape in order:
            n = _nbytes(dtype, shape)
            header[name] = {"dtype": DTYPE_CODES[dtype], "shape": list(shape),
                            "data_offsets": [pos, pos + n]}
            spans.append((name, pos, n))
            pos += n
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode()
        text += b" " * (-len(text) % 8)
        self.header = struct.pack("<Q", len(text)) + text
        base = len(self.header)
        self.offsets = {name: (base + start, n) for name, start, n in spans}
        self.size = base + pos
        self.fd = None

    def open(self):
        """Create the file (it must not exist), write the header, set the full size."""
        if sys.byteorder != "little":  # the raw bytes are the host's
            raise OSError("writing .safetensors needs a little-endian host")
        self.fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        _pwrite_all(self.fd, memoryview(self.header), 0)
        os.ftruncate(self.fd, self.size)

    def write(self, name, tensor, progress=None, start=0):
        """Write `tensor` (CPU, the entry's dtype and shape, or its part that begins `start`
        bytes into it) at its offset.  Returns the bytes written."""
        offset, n = self.offsets[name]
        data = tensor.detach().contiguous()
        if data.numel() == 0:
            return 0
        raw = data.view(-1).view(torch.uint8).numpy()
        view = memoryview(raw).cast("B")
        if start + len(view) > n:
            raise ValueError(f"{name}: {len(view)} bytes at {start} do not fit its {n} bytes")
        offset += start
        n = len(view)
        for pos in range(0, n, _WRITE_CHUNK):
            part = view[pos:pos + _WRITE_CHUNK]
            _pwrite_all(self.fd, part, offset + pos)
            if progress is not None:
                progress(len(part))
        return n

    def close(self, sync=True):
        if self.fd is not None:
            try:
                if sync:
                    os.fsync(self.fd)
            finally:
                os.close(self.fd)
                self.fd = None


def _pwrite_all(fd, view, offset):
    while len(view):
        done = os.pwrite(fd, view, offset)
        view, offset = view[done:], offset + done
