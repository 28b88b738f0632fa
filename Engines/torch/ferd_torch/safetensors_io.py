"""Dependency-free safetensors reader/writer for torch tensors.

File layout: an 8-byte little-endian u64 header length N, then N bytes of UTF-8
JSON ``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__":
{str: str}}`` padded with spaces so that 8 + N is a multiple of 8, then the raw
little-endian tensor bytes; offsets are relative to the start of that buffer.
"""

import ctypes
import json
import struct
import sys

import torch

DTYPES = {
    "F32": torch.float32,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}

if sys.byteorder != "little":
    raise ImportError("safetensors_io assumes a little-endian host")


def _tensor_bytes(tensor):
    """Raw bytes of a tensor in row-major order."""
    t = tensor.detach().cpu().contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def save_file(tensors, path, metadata=None):
    """Write ``{name: tensor}`` (F32/F64/I64/I32) to ``path`` in insertion order."""
    header = {}
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    blobs = []
    offset = 0
    for name, tensor in tensors.items():
        if name == "__metadata__":
            raise ValueError("'__metadata__' is reserved")
        if tensor.dtype not in _NAMES:
            raise TypeError(f"{name}: unsupported dtype {tensor.dtype}")
        blob = _tensor_bytes(tensor)
        header[name] = {
            "dtype": _NAMES[tensor.dtype],
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(blob)],
        }
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def _read(path):
    """Return (header dict, data buffer) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError(f"{path}: truncated file")
    (n,) = struct.unpack("<Q", raw[:8])
    if 8 + n > len(raw):
        raise ValueError(f"{path}: header length {n} exceeds file size")
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    return header, memoryview(raw)[8 + n:]


def load_metadata(path):
    """The ``__metadata__`` dict of a file (empty if absent)."""
    return _read(path)[0].get("__metadata__", {})


def load_file(path):
    """Read every tensor of ``path`` into a dict of (owning) torch tensors."""
    header, data = _read(path)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] not in DTYPES:
            raise TypeError(f"{name}: unsupported dtype {info['dtype']}")
        dtype = DTYPES[info["dtype"]]
        shape = [int(d) for d in info["shape"]]
        begin, end = info["data_offsets"]
        numel = 1
        for d in shape:
            numel *= d
        itemsize = torch.empty((), dtype=dtype).element_size()
        if not 0 <= begin <= end <= len(data) or end - begin != numel * itemsize:
            raise ValueError(f"{name}: bad data_offsets {begin}..{end} for shape {shape}")
        if numel == 0:
            out[name] = torch.empty(shape, dtype=dtype)
        else:
            buf = bytearray(data[begin:end])
            out[name] = torch.frombuffer(buf, dtype=dtype).reshape(shape).clone()
    return out
