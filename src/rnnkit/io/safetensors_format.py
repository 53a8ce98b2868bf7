"""Reading and writing the safetensors format, with every check done before allocating.

A safetensors file is: an 8-byte little-endian header length ``N``; ``N`` bytes of JSON
``{name: {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {str: str}}``;
then the raw little-endian tensor bytes. Nothing in it can run code. Files written here load in
the official ``safetensors`` library and the other way round (a test checks both).

Writes are atomic: a temporary file in the same folder, flushed and fsynced, then renamed.
"""

import json
import os

import numpy as np

from ..errors import FileFormatError
from ..files import atomic_write, file_size, open_regular  # noqa: F401 (atomic_write: re-exported)

MAX_HEADER_BYTES = 64 * 1024 * 1024
_DTYPES = {"F16": np.float16, "F32": np.float32, "F64": np.float64, "I8": np.int8,
           "I16": np.int16, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "BOOL": np.bool_}
_CODES = {np.dtype(v): k for k, v in _DTYPES.items()}


def save(path, tensors, metadata=None):
    """Write ``{name: array}`` and a ``{str: str}`` metadata dict to ``path``."""
    header, offset, blobs = {}, 0, []
    for name, array in tensors.items():
        if not isinstance(name, str) or name == "__metadata__":
            raise ValueError(f"safetensors: invalid tensor name {name!r}")
        a = np.asarray(array, order="C")  # (ascontiguousarray would make 0-d arrays 1-d)
        code = _CODES.get(a.dtype.newbyteorder("<") if a.dtype.byteorder == ">" else a.dtype)
        if code is None:
            raise TypeError(f"safetensors: cannot store {name!r} of dtype {a.dtype}")
        data = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": code, "shape": list(a.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    if metadata:
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
            raise TypeError("safetensors: metadata must map str to str")
        header["__metadata__"] = dict(metadata)
    head = json.dumps(header, separators=(",", ":")).encode("utf-8")
    head += b" " * (-len(head) % 8)  # align the data to 8 bytes, as the reference writer does
    atomic_write(path, [len(head).to_bytes(8, "little"), head] + blobs)


def _fail(path, why):
    raise FileFormatError(f"{path}: not a valid rnnkit/safetensors file: {why}")


def read_header(path):
    """The parsed JSON header and the byte offset where tensor data starts; validates it all."""
    path = os.fspath(path)
    try:
        with open_regular(path, "model or weights file") as f:
            size = file_size(f)
            raw_len = f.read(8)
            if len(raw_len) < 8:
                _fail(path, f"file is {size} bytes, shorter than the 8-byte header length")
            n = int.from_bytes(raw_len, "little")
            if n < 2 or n > MAX_HEADER_BYTES or 8 + n > size:
                _fail(path, f"header length {n} does not fit a file of {size} bytes")
            head = f.read(n)
    except FileNotFoundError:
        raise FileFormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FileFormatError(f"{path}: is a directory, expected a file") from None
    try:
        header = json.loads(head.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        _fail(path, f"header is not JSON ({type(e).__name__})")
    if not isinstance(header, dict):
        _fail(path, "header is not a JSON object")
    data_len = size - 8 - n
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            if not isinstance(info, dict) or not all(
                    isinstance(k, str) and isinstance(v, str) for k, v in info.items()):
                _fail(path, "__metadata__ must map strings to strings")
            continue
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            _fail(path, f"entry {name!r} must have exactly dtype, shape and data_offsets")
        dtype, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if not isinstance(dtype, str) or dtype not in _DTYPES:
            _fail(path, f"entry {name!r} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or len(shape) > 32 or not all(
                isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape):
            _fail(path, f"entry {name!r} has an invalid shape {shape!r}")
        if not (isinstance(offs, list) and len(offs) == 2 and all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs)):
            _fail(path, f"entry {name!r} has invalid data_offsets {offs!r}")
        begin, end = offs
        expected = int(np.prod(shape, dtype=object)) * np.dtype(_DTYPES[dtype]).itemsize
        if not 0 <= begin <= end <= data_len or end - begin != expected:
            _fail(path, f"entry {name!r}: bytes [{begin}, {end}) do not hold a {dtype} tensor of "
                        f"shape {shape} inside {data_len} data bytes")
        spans.append((begin, end))
    spans.sort()
    for (b0, e0), (b1, e1) in zip(spans, spans[1:]):
        if b1 < e0:
            _fail(path, "tensor data overlaps")
    return header, 8 + n


def load(path, expected=None):
    """``(tensors, metadata)`` from ``path``; with ``expected`` (``{name: (shape, dtype)}``) the
    file must hold exactly those names and shapes, checked before any tensor is read."""
    path = os.fspath(path)
    header, start = read_header(path)
    metadata = header.pop("__metadata__", {})
    if expected is not None:
        missing = sorted(set(expected) - set(header))
        extra = sorted(set(header) - set(expected))
        if missing or extra:
            raise FileFormatError(
                f"{path}: weights do not match the model: missing {missing or 'none'}, "
                f"unexpected {extra or 'none'}")
        for name, (shape, _) in expected.items():
            if tuple(header[name]["shape"]) != tuple(shape):
                raise FileFormatError(
                    f"{path}: weight {name!r} has shape {tuple(header[name]['shape'])} in the "
                    f"file, the model expects {tuple(shape)}")
    tensors = {}
    with open_regular(path, "model or weights file") as f:
        for name, info in header.items():
            begin, end = info["data_offsets"]
            f.seek(start + begin)
            buf = f.read(end - begin)
            if len(buf) != end - begin:
                _fail(path, f"entry {name!r} is truncated")
            dt = np.dtype(_DTYPES[info["dtype"]]).newbyteorder("<")
            tensors[name] = np.frombuffer(buf, dtype=dt).reshape(tuple(info["shape"])).astype(
                dt.newbyteorder("="))
    return tensors, metadata
