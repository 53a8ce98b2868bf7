"""A reader for the sktime / UEA-UCR ``.ts`` time-series format (equal-length series).

The format (used by the UEA & UCR time-series classification archive and shipped inside the
sktime wheel) is plain text: ``#`` comment lines, then ``@`` header lines, then ``@data``
followed by one case per line. A case's channels ("dimensions") are separated by ``:``, the
values of one channel by ``,``, and the class label comes last::

    # a comment
    @problemName BasicMotions
    @timeStamps false
    @missing false
    @univariate false
    @dimensions 6
    @equalLength true
    @seriesLength 100
    @classLabel true Standing Running Walking Badminton
    @data
    0.07,0.07,...,-0.20:0.39,0.39,...,-0.003:...:Standing

``read_ts`` supports what the equal-length archive problems use: real values, any number of
channels, with or without a class label. It refuses, with the line number, what it does not
support (time stamps ``(t,v)``, missing values ``?`` or ``NaN``, unequal lengths) and anything
malformed.

>>> x, labels, meta = read_ts("@problemName toy\\n@classLabel true a b\\n@data\\n"
...                           "1,2,3:4,5,6:a\\n7,8,9:1,1,1:b\\n")
>>> x.shape, labels, meta["classLabels"]
((2, 3, 2), ['a', 'b'], ['a', 'b'])
>>> x[0, :, 1].tolist()
[4.0, 5.0, 6.0]
"""

from pathlib import Path

import numpy as np

# header keys, as the format spells them; matched case-insensitively
BOOLEAN_KEYS = ("timeStamps", "missing", "univariate", "equalLength")
INTEGER_KEYS = ("dimensions", "seriesLength")
KNOWN_KEYS = {k.lower(): k for k in ("problemName", "classLabel", "targetLabel", "data")
              + BOOLEAN_KEYS + INTEGER_KEYS}


def _parse_bool(word, name, lineno, key):
    if word.lower() in ("true", "false"):
        return word.lower() == "true"
    raise ValueError(f"{name}:{lineno}: @{key} must be true or false, got {word!r}")


def _parse_header(line, meta, name, lineno):
    """One ``@key value...`` line into ``meta`` (canonical key spellings)."""
    parts = line[1:].split()
    if not parts:
        raise ValueError(f"{name}:{lineno}: '@' with no header name")
    key = KNOWN_KEYS.get(parts[0].lower())
    if key is None:
        raise ValueError(f"{name}:{lineno}: unknown header @{parts[0]}")
    values = parts[1:]
    if key == "data":
        return
    if not values:
        raise ValueError(f"{name}:{lineno}: @{key} needs a value")
    if key == "problemName":
        meta[key] = " ".join(values)
    elif key in BOOLEAN_KEYS:
        meta[key] = _parse_bool(values[0], name, lineno, key)
    elif key in INTEGER_KEYS:
        if not values[0].isdigit() or int(values[0]) < 1:
            raise ValueError(f"{name}:{lineno}: @{key} must be a positive integer, "
                             f"got {values[0]!r}")
        meta[key] = int(values[0])
    elif key == "classLabel":
        meta[key] = _parse_bool(values[0], name, lineno, key)
        meta["classLabels"] = values[1:]
        if meta[key] and not values[1:]:
            raise ValueError(f"{name}:{lineno}: @classLabel true needs the class names")
    elif key == "targetLabel":
        raise ValueError(f"{name}:{lineno}: @targetLabel (regression problems) is not "
                         "supported, only classification")


def _check_header(meta, name, lineno):
    """Refuse, before reading the data, the variants this reader does not handle."""
    if meta.get("timeStamps"):
        raise ValueError(f"{name}:{lineno}: @timeStamps true is not supported "
                         "(only plain comma-separated values)")
    if meta.get("equalLength") is False:
        raise ValueError(f"{name}:{lineno}: @equalLength false: series of unequal length "
                         "are not supported")


def _parse_case(line, meta, name, lineno):
    """One data line -> (channels: list of float lists, label or None)."""
    fields = line.split(":")
    label = None
    if meta.get("classLabel"):
        if len(fields) < 2:
            raise ValueError(f"{name}:{lineno}: expected channels and a class label "
                             "separated by ':'")
        label = fields.pop().strip()
        if label not in meta["classLabels"]:
            raise ValueError(f"{name}:{lineno}: class label {label!r} is not one of the "
                             f"@classLabel names {meta['classLabels']}")
    channels = []
    for d, field in enumerate(fields):
        words = [w.strip() for w in field.split(",")]
        if "?" in words or any(w.lower() == "nan" for w in words):
            raise ValueError(f"{name}:{lineno}: channel {d}: missing values ('?' or NaN) "
                             "are not supported")
        try:
            channels.append([float(w) for w in words])
        except ValueError:
            bad = next(w for w in words if not _is_float(w))
            raise ValueError(f"{name}:{lineno}: channel {d}: not a number: {bad[:30]!r}") from None
    return channels, label


def _is_float(word):
    try:
        float(word)
        return True
    except ValueError:
        return False


def read_ts(source, name=None):
    """Parse a ``.ts`` text (or file) into ``(x, labels, metadata)``.

    Args:
        source: the file's text (``str`` or ``bytes``), or a path (``pathlib.Path``).
        name: how to call the source in error messages (default: the path, or ``<ts>``).

    Returns:
        x: float32 ``(N, T, C)``: N cases, T time steps, C channels ("dimensions").
        labels: list of N class-name strings (empty when ``@classLabel false``).
        metadata: the header values, keys spelled as in the format: ``problemName`` (str),
            ``timeStamps``, ``missing``, ``univariate``, ``equalLength``, ``classLabel`` (bool),
            ``dimensions``, ``seriesLength`` (int), ``classLabels`` (list of str); only the
            headers present.

    Raises:
        ValueError: ``name:line: ...`` for malformed or unsupported input, a case whose number
            of channels or length differs from the header's or the first case's.
    """
    if isinstance(source, Path):
        name = name or str(source)
        source = source.read_bytes()
    if isinstance(source, bytes):
        source = source.decode("utf-8", errors="replace")
    name = name or "<ts>"
    meta, cases, labels, in_data, shape = {}, [], [], False, None
    lineno = 0
    for lineno, raw in enumerate(source.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            if not line.startswith("@"):
                raise ValueError(f"{name}:{lineno}: expected an @header or @data line before "
                                 f"the data, got {line[:40]!r}")
            _parse_header(line, meta, name, lineno)
            if line.split()[0].lower() == "@data":
                _check_header(meta, name, lineno)
                in_data = True
            continue
        if line.startswith("@"):
            raise ValueError(f"{name}:{lineno}: header {line.split()[0]} after @data")
        channels, label = _parse_case(line, meta, name, lineno)
        case_shape = (len(channels[0]), len(channels))                  # (T, C)
        if any(len(c) != case_shape[0] for c in channels):
            raise ValueError(f"{name}:{lineno}: channels of unequal length "
                             f"{sorted({len(c) for c in channels})}: not supported")
        expected = shape or (meta.get("seriesLength", case_shape[0]),
                             meta.get("dimensions", 1 if meta.get("univariate") else
                                      case_shape[1]))
        if case_shape != expected:
            raise ValueError(f"{name}:{lineno}: a case of {case_shape[0]} steps x "
                             f"{case_shape[1]} channels, expected {expected[0]} x {expected[1]}"
                             " (from the header or the first case)")
        shape = expected
        cases.append(np.array(channels, dtype=np.float32).T)            # (T, C)
        if label is not None:
            labels.append(label)
    if not in_data:
        raise ValueError(f"{name}:{lineno}: no @data line (not a .ts file?)")
    if not cases:
        raise ValueError(f"{name}:{lineno}: no cases after @data")
    return np.stack(cases), labels, meta                                  # (N, T, C)
